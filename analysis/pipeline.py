"""Compose the stages: transactions file -> bundle.json (+ the private assignments.csv).

Only composition lives here; each stage is one verb in its own module, and only
loading and bundle writing touch files.
"""

from __future__ import annotations

import datetime as dt
import platform
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.bundle import (
    Bundle,
    DataSection,
    DateRange,
    Returns,
    write_bundle,
)
from analysis.clean import clean_transactions
from analysis.cluster import fit_segments
from analysis.clv import fit_clv
from analysis.config import Config
from analysis.currency import currency_symbol
from analysis.customers import customer_table
from analysis.experiments import design_experiments, read_results
from analysis.features import build_features
from analysis.kselect import choose_k, choose_k_steps
from analysis.load import KNOWN_CURRENCIES, load_transactions
from analysis.naming import name_segments
from analysis.privacy import pseudonymize, resolve_key
from analysis.profiles import profile_segments
from analysis.projection import project_customers
from analysis.rfm import rfm_mix, score_rfm, summarize_rfm

__all__ = ["Progress", "RunResult", "run_pipeline", "STAGES"]

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
    bundle: Bundle
    bundle_path: Path
    assignments_path: Path
    warnings: tuple[str, ...]


def _versions() -> dict[str, str]:
    out = {"name": "segmentation", "python": platform.python_version()}
    for dist in ("segmentation", "duckdb", "pandas", "numpy", "scipy", "scikit-learn", "statsmodels", "pydantic"):
        try:
            out[dist if dist != "segmentation" else "version"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _public_config(config: Config) -> dict:
    dumped = config.model_dump(mode="json")
    if dumped["privacy"].get("key"):
        dumped["privacy"]["key"] = "(set, not shown)"
    return dumped


def run_pipeline(
    data_path: Path,
    *,
    config: Config,
    out_dir: Path,
    progress: Progress | None = None,
) -> RunResult:
    """Run every stage on ``data_path`` and write ``out_dir/bundle.json`` and ``out_dir/assignments.csv``.

    Parameters
    ----------
    data_path
        Transactions (or a customer-level table) as CSV, CSV.gz or Parquet.
    config
        The validated configuration; each stage gets its own section.
    out_dir
        Where the bundle and the private export are written (created if needed).
    progress
        Optional progress receiver (the CLI's progress bars).
    """
    progress = progress or Progress()
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        progress.stage("load")
        loaded = load_transactions(data_path, columns=config.columns)
        progress.stage("clean")
        cleaned = clean_transactions(loaded, config=config.cleaning)
        progress.stage("customers")
        table = customer_table(cleaned, config=config.customers)
        customers = table.customers
        key = resolve_key(config.privacy, data_path=Path(data_path))
        pseudonyms = pseudonymize(customers["customer_id"], key)

        progress.stage("features")
        features = build_features(customers, config=config.features)
        tick = progress.steps("choose k", choose_k_steps(config.k_selection, cluster=config.cluster))
        selection = choose_k(features.values, config=config.k_selection, cluster=config.cluster, on_step=tick)
        progress.stage("cluster")
        labels = fit_segments(
            features.values,
            selection.chosen_k,
            config=config.cluster,
            spend=customers["monetary"].to_numpy(),
        )
        progress.stage("name")
        profiles = profile_segments(customers, labels, features=features.columns, config=config.cluster)
        currency = config.customers.currency or KNOWN_CURRENCIES.get(loaded.source.shape)
        segments = name_segments(
            profiles, playbook_path=config.naming.playbook, currency_symbol=currency_symbol(currency)
        )

        progress.stage("rfm")
        scored = score_rfm(customers, config=config.rfm)
        mix = rfm_mix(scored, labels)
        segments = [s.model_copy(update={"rfm_mix": mix.get(s.id, {})}) for s in segments]
        rfm_section = summarize_rfm(scored, customers, labels)
        projection = project_customers(features.values, labels, random_state=config.cluster.random_state)

        clv = experiments = results = None
        per_customer = assigned = None
        if table.orders is not None:
            observation_end = table.snapshot_date - dt.timedelta(days=1)
            segment_of = pd.Series(labels, index=customers["customer_id"].to_numpy())
            names = {s.id: s.name for s in segments}
            if config.clv.enabled:
                progress.stage("clv")
                fitted = fit_clv(
                    table.orders,
                    config=config.clv,
                    segment_of=segment_of,
                    segment_names=names,
                    observation_end=observation_end,
                )
                clv, per_customer = fitted.section, fitted.per_customer
            progress.stage("experiments")
            members = pd.DataFrame(
                {"customer_id": customers["customer_id"], "pseudonym": pseudonyms, "segment": labels}
            )
            designed = design_experiments(
                members,
                segments=segments,
                orders=table.orders,
                config=config.experiments,
                observation_end=observation_end,
                clv=None if clv is None else fitted,
            )
            experiments, assigned = designed.section, designed.assignments
            if config.experiments.results is not None:
                results = read_results(
                    config.experiments.results,
                    assignments=assigned,
                    config=config.experiments,
                    segment_names=names,
                )
        caught = [str(w.message) for w in recorded]

    progress.stage("write")
    bundle = Bundle(
        generator=_versions(),
        data=DataSection(
            source=loaded.source,
            rows_in=cleaned.rows_in,
            rows_kept=cleaned.rows_kept,
            dropped=cleaned.dropped,
            reasons=cleaned.reasons,
            customers=len(customers),
            orders=None if table.orders is None else int(len(table.orders)),
            revenue=round(float(customers["monetary"].sum()), 2),
            currency=currency,
            snapshot_date=None if table.snapshot_date is None else table.snapshot_date.isoformat(),
            date_range=DateRange(
                first=None if table.first_date is None else table.first_date.isoformat(),
                last=None if table.last_date is None else table.last_date.isoformat(),
            ),
            returns=None
            if loaded.level == "customers"
            else Returns(
                rows=cleaned.returns_rows,
                value=round(cleaned.returns_value, 2),
                customers=cleaned.returns_customers,
            ),
            countries=int(customers["country"].nunique()) if customers["country"].notna().any() else None,
        ),
        config=_public_config(config),
        features=features.section(),
        k_selection=selection,
        segments=segments,
        projection=projection,
        rfm=rfm_section,
        clv=clv,
        experiments=experiments,
        experiment_results=results,
    )
    bundle_path = write_bundle(bundle, Path(out_dir))
    assignments = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "pseudonym": pseudonyms,
            "segment": labels.astype(np.int64),
            "segment_name": [next(s.name for s in segments if s.id == lab) for lab in labels],
            "rfm_segment": scored["rfm_segment"].to_numpy(),
            "rfm_cell": scored["rfm_cell"].to_numpy(),
        }
    )
    for col in features.columns:
        assignments[col] = customers[col].to_numpy()
    if assigned is not None:
        arms = assigned.set_index("customer_id")["arm"]
        assignments["arm"] = assignments["customer_id"].map(arms).to_numpy()
    if per_customer is not None and len(per_customer):
        value = per_customer.drop(columns=["segment"], errors="ignore").add_prefix("clv_")
        value = value.rename(columns={"clv_customer_id": "customer_id", "clv_clv": "clv"})
        assignments = assignments.merge(value, on="customer_id", how="left", validate="one_to_one")
    assignments_path = Path(out_dir) / "assignments.csv"
    tmp = assignments_path.with_name(".assignments.csv.tmp")
    assignments.to_csv(tmp, index=False, float_format="%.10g", lineterminator="\n")
    tmp.replace(assignments_path)
    return RunResult(bundle, bundle_path, assignments_path, tuple(dict.fromkeys(caught)))
