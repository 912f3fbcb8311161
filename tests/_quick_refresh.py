"""Quick stand-ins for the analysis and the renderers that behave like a refresh, for history and kill tests.

The stand-in analysis writes what the pipeline writes where the history looks:
a bundle whose source SHA-256 is the data file's and whose snapshot is read
from the data file (``snapshot=YYYY-MM-DD``), a ``model.json`` carrying the
pseudonym key's check value, and a private ``assignments.csv`` with raw ids
(:data:`RAW_IDS`) and their keyed pseudonyms. The bundle records which stored
refresh it was given as the previous one (``config.previous``), so tests can
see what the build compared with.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from _brief_factory import make_bundle

import publishing.build as build_module
from analysis.config import Config
from analysis.privacy import PseudonymKey, key_check, pseudonymize
from publishing._brief_worker import BriefWorker

KEY = "history tests key, long enough"
RAW_IDS = ("C-90017", "C-90018", "C-90019", "C-90020")


def write_data(path: Path, snapshot: str, extra: str = "") -> Path:
    """A stand-in data file: its bytes decide the data SHA-256, its first line the snapshot."""
    path.write_text(f"snapshot={snapshot}\n{extra}", encoding="utf-8")
    return path


def _key() -> PseudonymKey:
    # Without SEGMENTATION_KEY the pipeline derives the key from the data file; any fixed stand-in does here.
    secret = os.environ.get("SEGMENTATION_KEY")
    return PseudonymKey(secret.encode("utf-8"), "environment") if secret else PseudonymKey(b"derived", "derived")


def analyse(data: Path, *, config: Config, out_dir: Path, previous: Path | None = None):
    """Write bundle.json, model.json and assignments.csv as a refresh of ``data`` would."""
    text = Path(data).read_text(encoding="utf-8")
    snapshot = re.match(r"snapshot=(\S+)", text).group(1)
    bundle = make_bundle()
    source = bundle.data.source.model_copy(
        update={"name": Path(data).name, "sha256": hashlib.sha256(Path(data).read_bytes()).hexdigest()}
    )
    bundle = bundle.model_copy(
        update={
            "data": bundle.data.model_copy(update={"source": source, "snapshot_date": snapshot}),
            "config": {"previous": None if previous is None else Path(previous).name, "k": config.cluster.k},
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bundle.json").write_text(bundle.model_dump_json(indent=1), encoding="utf-8")
    model = {"kind": "stand-in model", "fingerprint": {"key_check": key_check(_key())}}
    (out_dir / "model.json").write_text(json.dumps(model), encoding="utf-8")
    pseudonyms = pseudonymize(RAW_IDS, _key())
    rows = [f"{cid},{p},{1 + n % 4}" for n, (cid, p) in enumerate(zip(RAW_IDS, pseudonyms, strict=True))]
    (out_dir / "assignments.csv").write_text("customer_id,pseudonym,segment\n" + "\n".join(rows) + "\n")
    return bundle


def render_site(bundle_path: Path, out_dir: Path, *, engine: str, archive=(), helper=None) -> None:
    """A one-page site that lists the archive it was given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    links = "".join(f'<a href="{href}">{snapshot}</a>' for snapshot, href in archive)
    (out_dir / "index.html").write_text(f"<!doctype html><title>segments</title>{links}", encoding="utf-8")


def render_brief(bundle_path: Path, out_pdf: Path, *, site_url: str | None) -> None:
    """A brief whose bytes differ per bundle (so archived briefs can be told apart)."""
    digest = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    out_pdf.write_bytes(f"%PDF-1.7\n% brief of bundle {digest}\n%%EOF\n".encode())


def install(target) -> None:
    """Replace the analysis and renderers of :mod:`publishing.build` (``target`` is a monkeypatch or the module)."""
    stand_ins = {
        "_analyse": analyse,
        "_render_site": render_site,
        "_render_brief": render_brief,
        "_brief_worker": lambda: BriefWorker(start=False),  # the stand-in brief renders in this process
    }
    for name, value in stand_ins.items():
        if hasattr(target, "setattr"):
            target.setattr(build_module, name, value)
        else:
            setattr(build_module, name, value)


def refresh_build(root: Path, data: Path, *, config: Config | None = None, **kwargs):
    """``build_all`` of ``data`` into ``root/_site``, ``root/build/private`` and ``root/build/history``."""
    return build_module.build_all(
        data,
        config=config or Config(),
        out=root / "_site",
        private=root / "build" / "private",
        **kwargs,
    )
