"""The CLI through a subprocess: one-line errors, non-zero exits, a real run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._data import REPO

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGMENTATION_KEY": "a test key that is long enough"}
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=300,
    )


BAD_INPUTS = {
    "empty-file": ("", "the file is empty"),
    "header-only": (HEADER, "has a header"),
    "missing-customer-column": (
        "Invoice,StockCode,Quantity,InvoiceDate,Price\n1,A,1,2011-01-01 10:00:00,2\n",
        "missing role(s): customer",
    ),
    "unparseable-dates": (
        HEADER + "1,A,x,1,someday,2,7,UK\n2,A,x,1,next week,2,8,UK\n",
        "no date format fits the date column",
    ),
    "text-in-price": (
        HEADER + "1,A,x,1,2011-01-01 10:00:00,two pounds,7,UK\n2,A,x,1,2011-01-02 10:00:00,2,8,UK\n",
        "column 'Price'",
    ),
    "every-row-dropped": (
        HEADER + "C1,A,x,-1,2011-01-01 10:00:00,2,7,UK\n2,POST,x,1,2011-01-02 10:00:00,2,8,UK\n",
        "every one of the 2 rows was dropped",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_gives_one_line_error_naming_the_file(tmp_path, case):
    text, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    out = tmp_path / "out"
    done = _cli("run", str(path), "--out", str(out))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert f"{case}.csv" in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in done.stderr
    assert not (out / "bundle.json").exists()


def test_bad_config_value_is_one_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[cluster]\nmethod = 'dbscan'\n")
    done = _cli("run", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cluster.method" in done.stderr and "'dbscan'" in done.stderr


def test_schema_command_prints_the_committed_schema():
    done = _cli("schema")
    assert done.returncode == 0
    committed = json.loads((REPO / "schemas" / "bundle.schema.json").read_text())
    assert json.loads(done.stdout) == committed


def test_previous_bundle_survives_a_failed_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "bundle.json").write_text('{"previous": true}\n')
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER)
    assert _cli("run", str(bad), "--out", str(out)).returncode != 0
    assert (out / "bundle.json").read_text() == '{"previous": true}\n'


def test_debug_works_after_the_subcommand_too(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER)
    for args in (["--debug", "run", str(bad)], ["run", str(bad), "--debug"]):
        done = _cli(*args, "--out", str(tmp_path / "o"))
        assert done.returncode != 0
        assert "Traceback" in done.stderr, args  # --debug re-raises to show it
    assert "unrecognized arguments" not in done.stderr


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda d: (d / "out").write_text("x") and d / "out", "is a file, not a directory", id="file"),
        pytest.param(lambda d: (d / "f").write_text("x") and d / "f" / "out", "is a file", id="parent-file"),
        pytest.param(
            lambda d: ((d / "out").mkdir(), (d / "out" / "precious.txt").write_text("x")) and d / "out",
            "did not write (precious.txt)",
            id="foreign-dir",
        ),
    ],
)
def test_bad_out_is_refused_before_the_analysis_runs(tmp_path, make, expected):
    out = make(tmp_path)
    done = _cli("run", "--out", str(out), "--progress", "never")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "rows in" not in done.stdout  # refused before any work
    if (tmp_path / "out" / "precious.txt").exists():
        assert (tmp_path / "out" / "precious.txt").read_text() == "x"


def test_results_without_a_real_key_are_refused(tmp_path):
    results = tmp_path / "results.csv"
    results.write_text("customer,arm,converted,revenue\nc_x,treatment,1,5\n")
    env = {k: v for k, v in os.environ.items() if k != "SEGMENTATION_KEY"}
    args = ["run", "--results", str(results), "--out", str(tmp_path / "o"), "--progress", "never"]
    done = subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert done.returncode == 2
    assert "error: Reading experiment results (--results) needs pseudonyms that stay the same" in done.stderr
    assert "anyone who has that file can recompute them" in done.stderr
    assert not (tmp_path / "o").exists()


def test_publishing_debug_works_after_the_subcommand_too(tmp_path):
    env = {**os.environ, "SEGMENTATION_KEY": "a test key that is long enough"}
    for args in (["--debug", "publish", "--check"], ["publish", "--check", "--debug"]):
        done = subprocess.run(
            [sys.executable, "-m", "publishing", *args, "--site", str(tmp_path / "none")],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
        )
        assert done.returncode != 0 and "unrecognized arguments" not in done.stderr, args
        assert "Traceback" in done.stderr, args
