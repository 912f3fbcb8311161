"""Rebuild when something that shapes the site changes, and only then.

Quick stand-ins replace the analysis and the renderers (:mod:`_quick_refresh`);
the fingerprint, the receipt, the checks and the swap are real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _quick_refresh import KEY, install, refresh_build, write_data

import publishing._fingerprint as fingerprint
from analysis.config import Config
from analysis.naming import DEFAULT_PLAYBOOK
from publishing.deliver import BUILD_INFO, load_key
from publishing.history import LOCK

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    install(monkeypatch)


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root``, the locks (taken by every run) left out."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (".build.lock", LOCK)
    }


def test_unchanged_inputs_are_up_to_date_and_nothing_is_touched(tmp_path, quick, monkeypatch):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data)
    before = _tree(tmp_path)
    monkeypatch.setattr("publishing.build._analyse", lambda *a, **k: pytest.fail("the analysis ran"))
    again = refresh_build(tmp_path, data)
    assert again.up_to_date and again.changed == () and set(again.seconds) == {"check"}
    assert _tree(tmp_path) == before


def test_one_changed_data_byte_rebuilds(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31", extra="row 1\n")
    first = refresh_build(tmp_path, data)
    data.write_bytes(data.read_bytes().replace(b"row 1", b"row 2"))
    second = refresh_build(tmp_path, data)
    assert not second.up_to_date and second.changed == ("data",)
    assert second.info.source_sha256 != first.info.source_sha256


def test_force_rebuilds_the_same_bytes(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    first = refresh_build(tmp_path, data)
    site = {p.name: p.read_bytes() for p in first.site_dir.iterdir()}
    again = refresh_build(tmp_path, data, force=True)
    assert not again.up_to_date and again.changed == ()
    assert {p.name: p.read_bytes() for p in again.site_dir.iterdir()} == site  # same inputs, same receipt


def _playbook_copy(tmp_path: Path) -> Config:
    copy = tmp_path / "playbook.toml"
    shutil.copyfile(DEFAULT_PLAYBOOK, copy)
    return Config(naming={"playbook": copy})


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        pytest.param(lambda tmp: {"config": Config(cluster={"k": 3})}, ("config",), id="config"),
        pytest.param(lambda tmp: {"site_url": "https://example.org/s/"}, ("options",), id="site-url"),
        pytest.param(lambda tmp: {"config": _playbook_copy(tmp)}, ("config",), id="playbook-path"),
    ],
)
def test_a_changed_setting_rebuilds(tmp_path, quick, change, changed):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data)
    again = refresh_build(tmp_path, data, **change(tmp_path))
    assert not again.up_to_date and again.changed == changed


def test_a_changed_playbook_file_rebuilds(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    config = _playbook_copy(tmp_path)
    refresh_build(tmp_path, data, config=config)
    with (tmp_path / "playbook.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n# one more line\n")
    assert refresh_build(tmp_path, data, config=config).changed == ("playbook",)


def test_the_engine_that_would_render_is_what_counts(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data, engine="auto")
    assert refresh_build(tmp_path, data, engine="pandoc").up_to_date == (shutil.which("quarto") is None)


def test_another_pseudonym_key_rebuilds(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data)
    again = refresh_build(tmp_path, data, config=Config(privacy={"key": KEY}))  # [privacy] key: the same config
    assert again.changed == ("history", "pseudonym_key")


def test_another_signing_key_rebuilds(tmp_path, quick, monkeypatch):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data)
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    # The receipt no longer verifies, so nothing in it is trusted (not even what changed).
    again = refresh_build(tmp_path, data)
    assert not again.up_to_date and again.history.recorded


def test_an_edited_site_is_rebuilt(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    first = refresh_build(tmp_path, data)
    (first.site_dir / "index.html").write_text("edited by hand", encoding="utf-8")
    again = refresh_build(tmp_path, data)
    assert not again.up_to_date and (first.site_dir / "index.html").read_text() != "edited by hand"


def test_the_receipt_signs_the_fingerprint_and_holds_no_key(tmp_path, quick, monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    result = refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    raw = (result.site_dir / BUILD_INFO).read_text(encoding="utf-8")
    receipt = json.loads(raw)
    assert set(receipt["inputs"]) == {
        "data",
        "config",
        "playbook",
        "rfm_rules",
        "results",
        "code",
        "templates",
        "lock",
        "options",
        "pseudonym_key",
        "signing_key",
        "history",
    }
    assert receipt["fingerprint"] == result.info.fingerprint
    assert KEY not in raw and load_key(tmp_path / "build", create=False).secret.hex() not in raw
    assert load_key(tmp_path / "build", create=False).verify(result.info.payload(), receipt["signature"])


def _tiny_project(root: Path) -> None:
    for name, text in {
        "analysis/a.py": "A = 1\n",
        "publishing/b.py": "B = 1\n",
        "report/index.qmd.j2": "{{ x }}\n",
        "report/glossary.qmd": "# Glossary\n",
        "report/_quarto.yml": "project: {}\n",
        "brief/brief.css": "p {}\n",
        "uv.lock": "version = 1\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "component"),
    [
        pytest.param("analysis/a.py", "code", id="analysis"),
        pytest.param("publishing/b.py", "code", id="publishing"),
        pytest.param("report/index.qmd.j2", "templates", id="page-template"),
        pytest.param("report/glossary.qmd", "templates", id="report"),
        pytest.param("report/_quarto.yml", "templates", id="quarto-yml"),
        pytest.param("brief/brief.css", "templates", id="brief"),
        pytest.param("uv.lock", "lock", id="uv-lock"),
    ],
)
def test_each_source_tree_has_its_component(tmp_path, monkeypatch, path, component):
    _tiny_project(tmp_path / "repo")
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path / "repo")
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    signing = load_key(tmp_path, create=True)

    def inputs():
        return fingerprint.build_inputs(data, config=Config(), site_url=None, engine="pandoc", signing=signing)

    before = inputs()
    with (tmp_path / "repo" / path).open("a", encoding="utf-8") as fh:
        fh.write("# one byte more\n")
    assert inputs().changed_since(before.components) == (component,)


def test_the_default_playbook_is_the_analysis_one():
    assert fingerprint.DEFAULT_PLAYBOOK == DEFAULT_PLAYBOOK


def test_the_up_to_date_check_does_not_load_the_analysis_stack(tmp_path, quick):
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    refresh_build(tmp_path, data)
    script = (
        "import sys\n"
        "from publishing.cli import main\n"
        f"code = main(['build', {str(data)!r}, '--out', {str(tmp_path / '_site')!r},"
        f" '--private', {str(tmp_path / 'build' / 'private')!r}])\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'scipy', 'sklearn', 'duckdb', 'matplotlib', 'weasyprint')"
        " if m in sys.modules)\n"
        "print(code, heavy)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "is up to date" in done.stdout and done.stdout.rstrip().endswith("0 []")
