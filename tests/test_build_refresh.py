"""Two refreshes built for real from the bundled sample, with a key: history, migration, archive, up to date.

The sample (Online Retail II) is cut into the log as it stood on 9 Dec 2010,
then used whole, the way a retailer's log grows between two reports. The pair
is built once for the whole test session (every xdist worker waits for the
same pair) and only read; a test that builds again works on its own copy.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader

import publishing.build as build_module
from analysis.config import load_config
from publishing.build import build_all
from publishing.deliver import KEY_ENV, check_site, load_key
from publishing.history import LINES, LOCK, read_history
from tests._data import SAMPLE, shared_file

ROOT = Path(__file__).resolve().parent.parent
KEY = "build refresh tests key, long enough"
CONFIG = "[k_selection]\nk_max = 6\nstability_resamples = 4\n"
FIRST_UNTIL = "2010-12-10"


def _cut(src: Path, target: Path, until: str) -> None:
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{src}') WHERE CAST(\"InvoiceDate\" AS TIMESTAMP) < TIMESTAMP '{until}') "
        f"TO '{target}' (FORMAT parquet)"
    )


def _targets(root: Path) -> dict[str, Path]:
    return {"out": root / "_site", "private": root / "build" / "private", "history": root / "build" / "history"}


def _build_pair(root: Path) -> None:
    first = root / "until-2010-12-09.parquet"
    _cut(SAMPLE, first, FIRST_UNTIL)
    shutil.copyfile(SAMPLE, root / "sample.parquet")
    (root / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(root / "config.toml")
    facts: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGMENTATION_KEY", KEY)
        for name, data in (("one", first), ("two", root / "sample.parquet")):
            clock = time.perf_counter()
            result = build_all(data, config=config, engine="pandoc", **_targets(root))
            facts[name] = {"seconds": time.perf_counter() - clock, "bundle": result.bundle_path.read_text()}
            facts[f"{name}_brief"] = (result.site_dir / "brief.pdf").read_bytes().hex()
            facts[f"{name}_previous"] = result.history.previous
    (root / "facts.json").write_text(json.dumps(facts), encoding="utf-8")


@pytest.fixture(scope="module")
def pair(tmp_path_factory, worker_id) -> tuple[Path, dict]:
    """The directory holding both builds (``_site``, ``build/private``, ``build/history``) and what they returned."""
    # Under xdist the workers' base directories share a parent unique to this session; without it, use our own.
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    root = shared / "build-refresh-pair"
    with open(shared / "build-refresh-pair.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "facts.json").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            _build_pair(root)
    return root, json.loads((root / "facts.json").read_text(encoding="utf-8"))


def _copy(pair_root: Path, to: Path) -> Path:
    shutil.copytree(pair_root, to, symlinks=True)
    return to


def test_the_second_refresh_counts_who_moved_since_the_first(pair):
    root, facts = pair
    one, two = json.loads(facts["one"]["bundle"]), json.loads(facts["two"]["bundle"])
    m = two["migration"]
    into_now = sum(t["customers"] for t in m["transitions"] if t["to"] is not None)
    assert into_now == m["in_both"] + m["new"] == two["data"]["customers"]
    snapshots = [one["data"]["snapshot_date"], two["data"]["snapshot_date"]]
    assert m["previous_customers"] == one["data"]["customers"] and m["previous_snapshot"] == snapshots[0]
    assert [p["snapshot"] for p in two["history"]["trend"]] == snapshots
    names = [r.name for r in read_history(root / "build" / "history").refreshes]
    assert facts["one_previous"] is None and facts["two_previous"] == names[0]


def test_the_history_has_one_line_per_segment_per_refresh(pair):
    root, facts = pair
    lines = [json.loads(t) for t in (root / "build" / "history" / LINES).read_text(encoding="utf-8").splitlines()]
    expected = []
    for name, refresh in zip(("one", "two"), read_history(root / "build" / "history").refreshes, strict=True):
        bundle = json.loads(facts[name]["bundle"])
        expected += [(refresh.name, bundle["data"]["snapshot_date"], s["id"], s["size"]) for s in bundle["segments"]]
    assert [(x["refresh"], x["snapshot"], x["segment"], x["customers"]) for x in lines] == expected


def test_the_first_brief_is_archived_and_signed(pair):
    root, facts = pair
    snapshot = json.loads(facts["one"]["bundle"])["data"]["snapshot_date"]
    key = load_key(root / "build", create=False, env={KEY_ENV: KEY})
    site = check_site(root / "_site", bundle_path=root / "build" / "private" / "bundle.json", key=key)
    name = f"archive/{snapshot}/brief.pdf"
    assert site.files[name] == bytes.fromhex(facts["one_brief"]) != site.files["brief.pdf"]
    assert name in site.info.files and len(PdfReader(root / "_site" / name).pages) == 2


def _tree(*roots: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns)
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


def _cli_build(root: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [f"--{k}={v}" for k, v in _targets(root).items()]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "SEGMENTATION_KEY": KEY}
    return subprocess.run(
        [sys.executable, "-m", "publishing", "build", str(data), "--config", str(root / "config.toml"), *args, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_unchanged_inputs_are_up_to_date_and_nothing_is_touched(pair, tmp_path):
    root = _copy(pair[0], tmp_path / "copy")
    kept = (root / "_site", root / "build" / "private", root / "build" / "history")
    before = _tree(*kept)
    done = _cli_build(root, root / "sample.parquet")
    assert done.returncode == 0, done.stderr
    assert "_site is up to date" in done.stdout and done.stderr == ""
    assert _tree(*kept) == before


class _AnalysisStarted(Exception):
    pass


def _stop_at_the_analysis(data, *, config, out_dir, previous=None):
    raise _AnalysisStarted(previous)


@pytest.mark.parametrize("how", ["one-data-byte", "force"])
def test_a_changed_byte_or_force_rebuilds(pair, tmp_path, monkeypatch, how):
    root = _copy(pair[0], tmp_path / "copy")
    data, force = root / "sample.parquet", how == "force"
    if not force:  # one byte more changes the data's SHA-256 (the analysis is stopped before it reads the file)
        data = root / "sample-plus-one.parquet"
        shutil.copyfile(root / "sample.parquet", data)
        with data.open("ab") as fh:
            fh.write(b"\0")
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    monkeypatch.setattr(build_module, "_analyse", _stop_at_the_analysis)
    with pytest.raises(_AnalysisStarted) as started:
        build_all(data, config=load_config(root / "config.toml"), engine="pandoc", force=force, **_targets(root))
    one, two = read_history(root / "build" / "history").refreshes
    # Forced on the same data, the build compares with the refresh before, not with itself.
    assert started.value.args[0] == (one.path if force else two.path)


def _ids() -> set[str]:
    query = f'SELECT DISTINCT "Customer ID" FROM read_parquet(\'{SAMPLE}\') WHERE "Customer ID" IS NOT NULL'
    return {str(r[0]) for r in duckdb.sql(query).fetchall()}


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _tokens(path: Path) -> set[str]:
    if path.suffix == ".pdf":
        text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    elif path.suffix in (".json", ".jsonl"):
        # Ids travel as text; a JSON number is a count or an amount (a sample size can equal some id).
        lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text()]
        text = " ".join(s for line in lines for s in _strings(json.loads(line)))
    else:
        text = path.read_bytes().decode("utf-8", errors="replace")
    # A raw id is a whole token: not part of a pseudonym, a hex digest or a decimal ("12,349" splits harmlessly).
    return set(re.findall(r"(?<![\w.])\w+(?![\w.])", text))


def test_no_raw_customer_id_in_the_history_or_the_site(pair):
    root, _ = pair
    ids = _ids()
    assert len(ids) > 2000
    files = [p for d in ("_site", "build/history") for p in sorted((root / d).rglob("*")) if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".pdf", ".json", ".csv", ".jsonl", ".svg"}
    leaks = {str(p.relative_to(root)): sorted(ids & _tokens(p))[:5] for p in files}
    assert {name: found for name, found in leaks.items() if found} == {}
    assert "12349" in _tokens(root / "build" / "private" / "assignments.csv")  # the check does find raw ids


def test_the_history_keeps_pseudonyms_and_is_owner_only(pair):
    root, facts = pair
    for refresh, name in zip(read_history(root / "build" / "history").refreshes, ("one", "two"), strict=True):
        rows = (refresh.path / "segments.csv").read_text(encoding="utf-8").splitlines()
        assert rows[0] == "pseudonym,segment"
        assert len(rows) - 1 == json.loads(facts[name]["bundle"])["data"]["customers"]
        assert all(re.fullmatch(r"c_[0-9a-f]{16},\d+", row) for row in rows[1:])
    for path in (root / "build" / "history").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path


@pytest.mark.realdata
def test_two_refreshes_of_the_full_online_retail_ii(tmp_path, monkeypatch):
    full = shared_file("online_retail_II.csv.gz")
    first = tmp_path / "until-2010-12-09.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_csv('{full}', all_varchar=true) WHERE strptime(\"InvoiceDate\", "
        f"'%Y-%m-%d %H:%M:%S') < TIMESTAMP '{FIRST_UNTIL}') TO '{first}' (FORMAT parquet)"
    )
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    config = load_config(None, k_selection={"k_max": 6, "stability_resamples": 4})
    one = build_all(first, config=config, engine="pandoc", **_targets(tmp_path))
    snapshot = json.loads(one.bundle_path.read_text(encoding="utf-8"))["data"]["snapshot_date"]
    two = build_all(full, config=config, engine="pandoc", **_targets(tmp_path))
    m = json.loads(two.bundle_path.read_text(encoding="utf-8"))["migration"]
    assert sum(t["customers"] for t in m["transitions"] if t["to"] is not None) == m["in_both"] + m["new"] == 5852
    refreshes = read_history(tmp_path / "build" / "history").refreshes
    assert [r.snapshot for r in refreshes] == [snapshot, "2011-12-10"] and two.history.previous == refreshes[0].name
    assert f"archive/{snapshot}/brief.pdf" in two.info.files
    assert build_all(full, config=config, engine="pandoc", **_targets(tmp_path)).up_to_date
