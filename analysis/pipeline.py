"""Compose the stages: transactions file -> bundle.json, model.json and the private assignments.csv.

Only composition lives here. Each stage is one verb in its own module and
returns a typed result; :mod:`analysis.assemble` turns the results into the
outputs, and :mod:`analysis.outputs` writes them all together or not at all.
Only loading (at the start) and the output commit (at the end) touch files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis._kscore import scoring_workers
from analysis.assemble import bundle_of, export_of, model_of
from analysis.bundle import Bundle, bundle_bytes
from analysis.clean import clean_transactions
from analysis.clv import ClvResult, fit_clv
from analysis.clv._fit import calibration_end_for
from analysis.config import Config
from analysis.customers import customer_table
from analysis.errors import ConfigError
from analysis.experiments import design_experiments, read_results
from analysis.export import csv_writer
from analysis.features import build_features
from analysis.fingerprint import sha256_file
from analysis.history_schema import MigrationSection
from analysis.identity import continue_segments
from analysis.kselect import choose_k, choose_k_steps
from analysis.load import load_transactions
from analysis.migration import migrate
from analysis.model import SegmentModel, dump_model
from analysis.naming import name_segments
from analysis.outputs import check_output_dir, commit_outputs
from analysis.previous import PreviousRun
from analysis.privacy import key_check, pseudonymize, require_real_key, resolve_key
from analysis.profiles import profile_segments
from analysis.projection import project_customers
from analysis.rfm import rfm_mix, score_rfm, summarize_rfm
from analysis.rfm_edges import fit_edges, score_orders
from analysis.rfm_rules import all_cells, default_rules_path, load_rfm_rules
from analysis.segmentation import segment_customers
from analysis.stages import RfmResult, RunStages
from analysis.validation_segments import calibration_segments

__all__ = ["Progress", "RunResult", "run_pipeline", "run_stages", "STAGES"]

STAGES = ("load", "clean", "customers", "features", "choose k", "cluster", "name", "rfm", "clv", "experiments", "write")


class Progress:
    """Receives progress events; the CLI draws them, tests and library users ignore them."""

    def stage(self, name: str) -> None:  # noqa: D401 - event hook
        """A stage starts."""

    def steps(self, name: str, total: int) -> Callable[[], None]:
        """A stage with ``total`` steps starts; call the returned function after each."""
        return lambda: None


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_pipeline` wrote, and the objects it wrote."""

    bundle: Bundle
    model: SegmentModel
    bundle_path: Path
    model_path: Path
    assignments_path: Path
    stages: RunStages
    warnings: tuple[str, ...]


def _rfm(customers: pd.DataFrame, labels: np.ndarray, pseudonyms: np.ndarray, config: Config) -> RfmResult:
    values = customers["recency"], customers["frequency"], customers["monetary"]
    orders = score_orders(*values, pseudonyms)
    scored = score_rfm(customers, config=config.rfm, tiebreak=pseudonyms, orders=orders)
    rules = load_rfm_rules(None)
    return RfmResult(
        scored=scored,
        edges=fit_edges(*values, pseudonyms, bins=config.rfm.bins, orders=orders),
        mix=rfm_mix(scored, labels),
        section=summarize_rfm(scored, customers, labels),
        rules_sha256=sha256_file(default_rules_path()),
        cells={f"{r}{f}{m}": rules.segment_for(r, f, m) for r, f, m in all_cells()},
    )


def _lifetime_value(cleaned, table, features, segmentation, segments, config: Config) -> ClvResult:
    """BG/NBD + Gamma-Gamma, checked on a holdout against segments drawn on the calibration period only."""
    observation_end = table.snapshot_date - dt.timedelta(days=1)
    cal_end = calibration_end_for(table.first_date, observation_end, config.clv)
    validation = None
    if table.first_date < cal_end < observation_end:
        validation = calibration_segments(
            cleaned,
            calibration_end=cal_end,
            k=len(segmentation.ids),
            final=segmentation,
            final_features=features,
            final_personas={s.id: s.persona for s in segments},
            config=config,
        )
    customers = table.customers
    return fit_clv(
        table.occasions,
        config=config.clv,
        segment_of=pd.Series(segmentation.labels, index=customers["customer_id"].to_numpy()),
        segment_ids=sorted(s.id for s in segments),
        observation_end=observation_end,
        validation=validation,
    )


def _value_and_tests(cleaned, table, pseudonyms, features, segmentation, segments, config: Config, progress: Progress):
    """CLV, test plans and the optional results read-out (transactions only)."""
    if not table.has_occasions:
        return None, None, None
    customers, labels = table.customers, segmentation.labels
    clv: ClvResult | None = None
    if config.clv.enabled:
        progress.stage("clv")
        clv = _lifetime_value(cleaned, table, features, segmentation, segments, config)
    progress.stage("experiments")
    members = pd.DataFrame({"customer_id": customers["customer_id"], "pseudonym": pseudonyms, "segment": labels})
    designed = design_experiments(
        members,
        segments=segments,
        orders=table.occasions,
        config=config.experiments,
        observation_end=table.snapshot_date - dt.timedelta(days=1),
        clv=clv,
        neighbours=segmentation.neighbours(),
    )
    results = None
    if config.experiments.results is not None:
        results = read_results(
            config.experiments.results,
            assignments=designed.assignments,
            config=config.experiments,
            segment_ids=sorted(s.id for s in segments),
        )
    return clv, designed, results


def _check_previous_key(key, previous: PreviousRun, config: Config) -> None:
    require_real_key(key, purpose="Comparing with the previous refresh (--previous)", key_env=config.privacy.key_env)
    if key_check(key) != previous.model.fingerprint.key_check:
        raise ConfigError(
            f"{previous.path}: the previous refresh was made with another pseudonym key, so its customers "
            f"cannot be matched to this one's; use the same {config.privacy.key_env} for every refresh."
        )


def _continue(customers, features, refit, previous, selection, config: Config):
    """This refresh's segmentation, carried over from the previous refresh when there is one."""
    if previous is None:
        return refit, features, None
    # The refit's own personas (a first naming) let a segment whose centre drifted still match.
    profiles = profile_segments(customers, refit.labels, features=features.columns, config=config.cluster)
    personas = {s.id: s.persona for s in name_segments(profiles, playbook_path=config.naming.playbook)}
    continuity = continue_segments(
        customers,
        features,
        refit,
        previous,
        chosen_k=selection.chosen_k,
        personas=personas,
        config=config.history,
        cluster=config.cluster,
    )
    return continuity.segmentation, continuity.features, continuity


def _migration(previous, customers, pseudonyms, labels, clv, snapshot) -> MigrationSection | None:
    if previous is None:
        return None
    value = None
    if clv is not None and len(clv.per_customer):
        by_id = clv.per_customer.set_index("customer_id")["clv"]
        value = customers["customer_id"].astype(str).map(by_id).to_numpy(dtype="float64")
    return migrate(
        previous.segment_of,
        pseudonyms=pseudonyms,
        labels=labels,
        revenue=customers["monetary"].to_numpy(dtype="float64"),
        predicted_value=value,
        previous_snapshot=previous.snapshot,
        current_snapshot=snapshot,
    )


def run_stages(
    data_path: Path, *, config: Config, progress: Progress | None = None, previous: PreviousRun | None = None
) -> RunStages:
    """Run every stage on ``data_path`` and return their typed results (nothing is written).

    ``previous`` (:func:`analysis.previous.read_previous`) makes this a refresh:
    segments keep their identities (:mod:`analysis.identity`) and the
    migration since then is counted (:mod:`analysis.migration`).
    """
    progress = progress or Progress()
    with warnings.catch_warnings(record=True) as recorded, contextlib.ExitStack() as stack:
        warnings.simplefilter("always")
        key = resolve_key(config.privacy, data_path=Path(data_path))
        if config.experiments.results is not None:
            require_real_key(key, purpose="Reading experiment results (--results)", key_env=config.privacy.key_env)
        if previous is not None:
            _check_previous_key(key, previous, config)
        progress.stage("load")
        loaded = load_transactions(data_path, columns=config.columns, engine=config.engine)
        workers = stack.enter_context(scoring_workers(config.k_selection, lines=loaded.rows_in))
        progress.stage("clean")
        cleaned = clean_transactions(loaded, config=config.cleaning)
        progress.stage("customers")
        table = customer_table(cleaned, config=config.customers)
        customers = table.customers
        pseudonyms = np.asarray(pseudonymize(customers["customer_id"], key), dtype=object)

        progress.stage("features")
        features = build_features(customers, config=config.features)
        tick = progress.steps("choose k", choose_k_steps(config.k_selection, cluster=config.cluster))
        selection = choose_k(
            features.values,
            config=config.k_selection,
            cluster=config.cluster,
            on_step=tick,
            order=features.canonical_order,
            workers=workers,
        )
        progress.stage("cluster")
        spend = customers["monetary"].to_numpy()
        refit = segment_customers(
            features.values, selection.chosen_k, config=config.cluster, spend=spend, order=features.canonical_order
        )
        segmentation, features, continuity = _continue(customers, features, refit, previous, selection, config)
        labels = segmentation.labels
        progress.stage("name")
        profiles = profile_segments(customers, labels, features=features.columns, config=config.cluster)
        currency = table.currency
        segments = name_segments(
            profiles,
            playbook_path=config.naming.playbook,
            keep=None if continuity is None else continuity.kept,
        )
        progress.stage("rfm")
        rfm = _rfm(customers, labels, pseudonyms, config)
        projection = project_customers(
            features.values, labels, random_state=config.cluster.random_state, order=features.canonical_order
        )
        clv, experiments, results = _value_and_tests(
            cleaned, table, pseudonyms, features, segmentation, segments, config, progress
        )
        snapshot = None if table.snapshot_date is None else table.snapshot_date.isoformat()
        migration = _migration(previous, customers, pseudonyms, labels, clv, snapshot or "")
    return RunStages(
        config=config,
        loaded=loaded,
        cleaned=cleaned,
        table=table,
        key=key,
        pseudonyms=pseudonyms,
        features=features,
        selection=selection,
        segmentation=segmentation,
        profiles=profiles,
        segments=segments,
        rfm=rfm,
        projection=projection,
        currency=currency,
        clv=clv,
        experiments=experiments,
        results=results,
        previous=previous,
        continuity=continuity,
        migration=migration,
        warnings=tuple(dict.fromkeys(str(w.message) for w in recorded)),
    )


def run_pipeline(
    data_path: Path,
    *,
    config: Config,
    out_dir: Path,
    progress: Progress | None = None,
    previous: PreviousRun | None = None,
) -> RunResult:
    """Run every stage on ``data_path`` and write ``bundle.json``, ``model.json`` and ``assignments.csv``.

    Parameters
    ----------
    data_path
        Transactions (or a customer-level table) as CSV, CSV.gz or Parquet.
    config
        The validated configuration; each stage gets its own section.
    out_dir
        Where the outputs go. It must be new, empty or a previous run's output
        directory (checked before any work); the three files replace the
        previous ones together, or not at all (:mod:`analysis.outputs`).
    progress
        Optional progress receiver (the CLI's progress bars).
    previous
        The previous refresh, read with :func:`analysis.previous.read_previous`
        (needs a real pseudonym key, the same as the previous run's).

    Raises
    ------
    SegmentationError
        Bad input, configuration or output path; nothing is written.
    """
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    progress = progress or Progress()
    stages = run_stages(data_path, config=config, progress=progress, previous=previous)
    progress.stage("write")
    bundle, model = bundle_of(stages), model_of(stages)
    model_bytes, payload = dump_model(model), bundle_bytes(bundle)
    commit_outputs(
        out_dir,
        {
            "bundle.json": lambda fh: fh.write(payload),
            "model.json": lambda fh: fh.write(model_bytes),
            "assignments.csv": csv_writer(export_of(stages)),
        },
    )
    return RunResult(
        bundle=bundle,
        model=model,
        bundle_path=out_dir / "bundle.json",
        model_path=out_dir / "model.json",
        assignments_path=out_dir / "assignments.csv",
        stages=stages,
        warnings=stages.warnings,
    )
