"""The whole build (all or nothing) and the CLI's one-line errors.

The analysis step is replaced by writing a hand-made bundle (the pipeline has
its own tests); the site and the brief are rendered for real.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _brief_factory import write_sample_bundle
from pypdf import PdfReader

import publishing.build as build_module
from analysis.config import Config, load_config
from analysis.errors import DataError, PublishError
from analysis.privacy import PseudonymKey, key_check, pseudonymize
from publishing._brief_worker import BriefWorker
from publishing.build import build_all
from publishing.deliver import check_site

ROOT = Path(__file__).resolve().parent.parent
RAW_IDS = ("C-90017", "C-90018", "C-90019")


def _fake_analyse(data: Path, *, config: Config, out_dir: Path, previous: Path | None = None):
    """Write what the pipeline writes: the bundle, model.json and the private assignments with raw IDs."""
    path = write_sample_bundle(out_dir)
    key = PseudonymKey(os.environ.get("SEGMENTATION_KEY", "derived").encode(), "stand-in")
    rows = "\n".join(f"{cid},{p},1" for cid, p in zip(RAW_IDS, pseudonymize(RAW_IDS, key), strict=True))
    (out_dir / "assignments.csv").write_text(f"customer_id,pseudonym,segment\n{rows}\n", encoding="utf-8")
    model = {"kind": "stand-in model", "fingerprint": {"key_check": key_check(key)}}
    (out_dir / "model.json").write_text(json.dumps(model), encoding="utf-8")
    from analysis.bundle import Bundle

    return Bundle.model_validate_json(path.read_text(encoding="utf-8"))


def _quick_site(bundle_path: Path, out_dir: Path, *, engine: str, archive=(), helper=None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "index.html").write_text("<!doctype html><title>new</title>", encoding="utf-8")


def _quick_brief(bundle_path: Path, out_pdf: Path, *, site_url: str | None) -> None:
    out_pdf.write_bytes(b"%PDF-1.7\n% a stand-in brief\n%%EOF\n")


def _no_worker() -> BriefWorker:
    """No brief process: the stand-in _render_brief renders the brief in this one."""
    return BriefWorker(start=False)


def quick_build(monkeypatch, root: Path, **kwargs):
    """Build into ``root/_site`` and ``root/build/private`` with the analysis and the renderers replaced."""
    monkeypatch.setattr(build_module, "_analyse", kwargs.pop("analyse", _fake_analyse))
    monkeypatch.setattr(build_module, "_render_site", kwargs.pop("render_site", _quick_site))
    monkeypatch.setattr(build_module, "_render_brief", kwargs.pop("render_brief", _quick_brief))
    monkeypatch.setattr(build_module, "_brief_worker", _no_worker)
    targets = {"out": root / "_site", "private": root / "build" / "private", **kwargs}
    if not (root / "data.csv").exists():
        (root / "data.csv").write_text("stand-in data: the analysis is replaced\n", encoding="utf-8")
    return build_all(root / "data.csv", config=Config(), **targets)


def _leftovers(*dirs: Path) -> list[str]:
    return sorted(p.name for d in dirs if d.exists() for p in d.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    (root / "data.csv").write_text("stand-in data\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_module, "_analyse", _fake_analyse)
        result = build_all(
            root / "data.csv",
            config=Config(),
            out=root / "_site",
            private=root / "build" / "private",
            site_url="https://example.org/s/",
        )
    return root, result


def test_build_writes_site_brief_and_receipt(built):
    root, result = built
    site = root / "_site"
    assert result.site_dir == site
    for name in ("index.html", "brief.pdf", "build-info.json"):
        assert (site / name).is_file()
    assert check_site(site, bundle_path=result.bundle_path).info == result.info
    assert set(result.seconds) == {"analysis", "site", "brief"}


def test_private_output_stays_out_of_the_site(built):
    root, result = built
    assert (result.private_dir / "assignments.csv").is_file()
    site = root / "_site"
    assert not list(site.rglob("assignments.csv"))
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(cid.encode() in data for cid in RAW_IDS), path


def test_no_temporary_directories_left(built):
    root, _ = built
    assert _leftovers(root) == []
    # What stays beside the private output: the lock and the signing key, nothing staged.
    assert _leftovers(root / "build") == [".build.lock", ".signing-key"]


def _fail_analysis(data, *, config, out_dir, previous=None):
    raise DataError("no usable rows", path=data)


def _fail_site(bundle_path, out_dir, *, engine, archive=(), helper=None):
    _quick_site(bundle_path, out_dir, engine=engine)
    raise PublishError("pandoc failed")


def _fail_brief(bundle_path, out_pdf, *, site_url):
    out_pdf.write_bytes(b"%PDF-1.7 half written")
    raise RuntimeError("WeasyPrint crashed")


@pytest.mark.parametrize(
    ("step", "failure", "error"),
    [
        pytest.param("_analyse", _fail_analysis, DataError, id="analysis"),
        pytest.param("_render_site", _fail_site, PublishError, id="site"),
        pytest.param("_render_brief", _fail_brief, RuntimeError, id="brief"),
    ],
)
def test_failed_build_leaves_previous_site_untouched(tmp_path, monkeypatch, step, failure, error):
    site, private = tmp_path / "_site", tmp_path / "build" / "private"
    quick_build(monkeypatch, tmp_path)
    before = {p: p.read_bytes() for p in sorted((*site.rglob("*"), *private.rglob("*"))) if p.is_file()}
    monkeypatch.setattr(build_module, step, failure)
    with pytest.raises(error):  # forced: the same inputs would otherwise be found up to date
        build_all(tmp_path / "data.csv", config=Config(), out=site, private=private, force=True)
    after = {p: p.read_bytes() for p in sorted((*site.rglob("*"), *private.rglob("*"))) if p.is_file()}
    assert after == before
    assert check_site(site, bundle_path=private / "bundle.json")
    assert _leftovers(tmp_path) == []
    assert _leftovers(tmp_path / "build") == [".build.lock", ".signing-key"]


def test_rebuild_replaces_the_whole_site(tmp_path, monkeypatch):
    def site_with_extra_page(bundle_path, out_dir, *, engine, archive=(), helper=None):
        _quick_site(bundle_path, out_dir, engine=engine)
        (out_dir / "old-page.html").write_text("from an earlier build", encoding="utf-8")

    site = tmp_path / "_site"
    quick_build(monkeypatch, tmp_path, render_site=site_with_extra_page)
    assert (site / "old-page.html").is_file()
    quick_build(monkeypatch, tmp_path, force=True)
    assert sorted(p.name for p in site.iterdir()) == ["brief.pdf", "build-info.json", "index.html"]


def _site_with_folders(bundle_path, out_dir, *, engine, archive=(), helper=None):
    _quick_site(bundle_path, out_dir, engine=engine)
    (out_dir / "figures" / "segments").mkdir(parents=True)
    (out_dir / "figures" / "segments" / "one.svg").write_text("<svg/>", encoding="utf-8")


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in (root, *root.rglob("*"))}


@pytest.mark.parametrize("umask", [0o077, 0o000], ids=["umask-077", "umask-000"])
def test_site_is_world_readable_and_private_output_owner_only(tmp_path, monkeypatch, umask):
    previous = os.umask(umask)
    try:
        result = quick_build(monkeypatch, tmp_path, render_site=_site_with_folders)
    finally:
        os.umask(previous)
    site, private = _modes(result.site_dir), _modes(result.private_dir)
    assert {"figures/segments/one.svg", "brief.pdf", "build-info.json"} <= set(site)
    assert {"bundle.json", "assignments.csv"} <= set(private)
    assert {n: m for n, m in site.items() if m != (0o755 if (result.site_dir / n).is_dir() else 0o644)} == {}
    assert {n: m for n, m in private.items() if m != (0o700 if (result.private_dir / n).is_dir() else 0o600)} == {}
    assert stat.S_IMODE((tmp_path / "build" / ".signing-key").stat().st_mode) == 0o600


def test_private_dir_inside_site_is_refused(tmp_path):
    (tmp_path / "d.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(PublishError, match="must lie outside each other"):
        build_all(tmp_path / "d.csv", config=Config(), out=tmp_path / "_site", private=tmp_path / "_site" / "private")


def _write_transactions(path: Path, *, n_customers: int = 240, seed: int = 7) -> list[str]:
    """A synthetic Online Retail II-shaped log: three kinds of buyer; returns the raw customer IDs."""
    rng = np.random.default_rng(seed)
    lines = ["Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"]
    invoice, ids = 500000, []
    for c in range(n_customers):
        cid, kind = str(70001 + c), c % 3
        ids.append(cid)
        for _ in range((1, 3, 12)[kind] + int(rng.integers(0, 3))):
            invoice += 1
            day = np.datetime64("2011-01-01") + np.timedelta64(int(rng.integers(0, 360)), "D")
            for line in range(int(rng.integers(1, 4))):
                qty = int(rng.integers(1, (4, 10, 40)[kind]))
                price = round(float(rng.uniform(0.5, 9.0)), 2)
                lines.append(f"{invoice},P{line}{kind},Item {line},{qty},{day} 10:00:00,{price},{cid},UK")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    """The real pipeline, site and brief on a small synthetic log (k fixed to keep it fast)."""
    root = tmp_path_factory.mktemp("e2e")
    ids = _write_transactions(root / "transactions.csv")
    config = load_config(None, cluster={"k": 3}, k_selection={"k_max": 4, "stability_resamples": 2})
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SEGMENTATION_KEY", raising=False)  # the main job on a fresh clone: no key
        result = build_all(
            root / "transactions.csv", config=config, out=root / "_site", private=root / "build" / "private"
        )
    return root, result, ids


def test_real_build_without_a_key_keeps_no_history(real_build):
    root, result, _ = real_build
    assert result.history is None and not (root / "build" / "history").exists()
    assert result.note.startswith("SEGMENTATION_KEY is not set, so no refresh history is kept")
    assert not (root / "_site" / "archive").exists()


def test_real_build_is_complete_and_private(real_build):
    root, result, ids = real_build
    site = root / "_site"
    assert len(PdfReader(site / "brief.pdf").pages) == 2
    check_site(site, bundle_path=result.bundle_path)
    private_ids = (result.private_dir / "assignments.csv").read_text(encoding="utf-8")
    assert all(cid in private_ids for cid in ids)
    # Every raw ID is 70001..70240; digits after a decimal point (an SVG coordinate such as 143.70015) are no ID.
    pattern = re.compile(rb"(?<![0-9.])70[0-9]{3}\b")
    for path in site.rglob("*"):
        if path.is_file() and path.suffix != ".pdf":
            assert not [m for m in pattern.findall(path.read_bytes()) if m.decode() in ids], path
    text = " ".join(page.extract_text() for page in PdfReader(site / "brief.pdf").pages)
    assert not [cid for cid in ids if re.search(rf"\b{cid}\b", text)]


def test_real_build_publishes_through_the_cli(real_build, tmp_path):
    root, result, _ = real_build
    done = _cli(
        "publish",
        "--site",
        str(root / "_site"),
        "--bundle",
        str(result.bundle_path),
        "--to-dir",
        str(tmp_path / "www"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "www" / "index.html").is_file()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("PUBLISH_DIR", "PUBLISH_GIT_REPO", "SMTP_TO"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "publishing", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("publish",), "error: _site: no built site", id="publish-no-site"),
        pytest.param(
            ("build", "--config", "missing.toml"), "error: missing.toml: config file not found", id="build-bad-config"
        ),
        pytest.param(("build", "a.csv", "--data", "b.csv"), "error: give the data file once", id="build-two-data"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, message):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(message)
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
