"""The refresh history the build keeps: what is recorded, what a build compares with, what is refused.

The analysis and the renderers are quick stand-ins (:mod:`_quick_refresh`) that
write what the pipeline writes where the history looks; the store, the
fingerprint, the archive and the swap are the real ones. The real pipeline on
the bundled sample is in ``test_build_refresh.py``.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from _quick_refresh import KEY, RAW_IDS, install, refresh_build, write_data

from analysis.config import Config
from analysis.errors import PublishError
from publishing._history_records import pseudonym_map
from publishing._history_view import line_sets
from publishing.cli import main
from publishing.deliver import check_site
from publishing.history import LINES, LOCK, REFRESHES, read_history


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    install(monkeypatch)


def _history(root: Path) -> Path:
    return root / "build" / "history"


def _lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (_history(root) / LINES).read_text(encoding="utf-8").splitlines()]


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root`` but the history's lock (a writing build takes it)."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


def _bundle(result) -> dict:
    return json.loads(result.bundle_path.read_text(encoding="utf-8"))


def test_each_refresh_is_recorded_once_and_compared_with_the_one_before(tmp_path, keyed):
    first = refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    second = refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    view = read_history(_history(tmp_path))
    names = [r.name for r in view.refreshes]
    assert [r.snapshot for r in view.refreshes] == ["2011-01-31", "2011-02-28"]
    assert first.history.previous is None and first.history.recorded
    assert second.history.previous == names[0] and _bundle(second)["config"]["previous"] == names[0]
    lines = _lines(tmp_path)
    segments = [s["id"] for s in _bundle(second)["segments"]]
    assert [(line["refresh"], line["segment"]) for line in lines] == [(n, s) for n in names for s in segments]
    assert {line["lines"] for line in lines} == {len(segments)}
    stored = {s["id"]: s for s in _bundle(second)["segments"]}
    assert all(line["customers"] == stored[line["segment"]]["size"] for line in lines if line["refresh"] == names[1])


def test_the_earlier_brief_is_archived_in_the_signed_manifest(tmp_path, keyed):
    first = refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    brief = (first.site_dir / "brief.pdf").read_bytes()
    second = refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    site = second.site_dir
    assert (site / "archive" / "2011-01-31" / "brief.pdf").read_bytes() == brief
    assert (site / "brief.pdf").read_bytes() != brief
    assert "archive/2011-01-31/brief.pdf" in check_site(site, bundle_path=second.bundle_path).info.files
    assert '<a href="archive/2011-01-31/brief.pdf">2011-01-31</a>' in (site / "index.html").read_text()
    assert second.history.archive == ("2011-01-31",)
    assert sorted(p.name for p in (site / "archive").iterdir()) == ["2011-01-31"]  # never this refresh's own


def test_rebuilding_a_refresh_compares_with_the_one_before_and_records_nothing(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    feb = write_data(tmp_path / "feb.csv", "2011-02-28")
    second = refresh_build(tmp_path, feb)
    before = _tree(_history(tmp_path))
    again = refresh_build(tmp_path, feb, force=True)
    assert not again.up_to_date
    assert again.history.previous == second.history.previous  # the refresh before, not itself
    assert not again.history.recorded
    assert _tree(_history(tmp_path)) == before  # no duplicate lines, no new directory


def test_a_new_result_for_the_same_refresh_is_recorded_and_wins(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    feb = write_data(tmp_path / "feb.csv", "2011-02-28")
    refresh_build(tmp_path, feb)
    revised = refresh_build(tmp_path, feb, config=Config(cluster={"k": 3}))  # same data, another configuration
    assert revised.history.recorded and revised.changed == ("config",)
    names = [r.name for r in read_history(_history(tmp_path)).refreshes]
    assert len(names) == 3 and names[1] != names[2] and names[1][:23] == names[2][:23]  # same snapshot and data
    march = refresh_build(tmp_path, write_data(tmp_path / "mar.csv", "2011-03-31"), config=Config(cluster={"k": 3}))
    assert march.history.previous == names[2]
    assert _bundle(march)["config"]["previous"] == names[2]
    assert march.history.archive == ("2011-01-31", "2011-02-28")


def test_the_store_is_owner_only_and_holds_no_raw_id(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    history = _history(tmp_path)
    for path in (history, *history.rglob("*")):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
        if path.is_file():
            assert not [cid for cid in RAW_IDS if cid.encode() in path.read_bytes()], path
    (stored,) = (history / REFRESHES).iterdir()
    rows = (stored / "segments.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "pseudonym,segment" and len(rows) == 1 + len(RAW_IDS) and rows[1:] == sorted(rows[1:])


def _cli_build(root: Path, data: Path, *extra: str) -> int:
    args = ["build", str(data), "--out", str(root / "_site"), "--private", str(root / "build" / "private")]
    return main([*args, "--history", str(_history(root)), *extra])


def test_without_a_key_nothing_is_kept_and_one_line_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SEGMENTATION_KEY", raising=False)
    install(monkeypatch)
    assert _cli_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31")) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("warning: SEGMENTATION_KEY is not set, so no refresh history")
    assert "history:" not in out and not _history(tmp_path).exists()
    assert (tmp_path / "_site" / "index.html").is_file()


def test_without_a_key_an_existing_history_is_left_alone_and_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEGMENTATION_KEY", KEY)
    install(monkeypatch)
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    before = _tree(_history(tmp_path))
    monkeypatch.delenv("SEGMENTATION_KEY")
    assert _cli_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28")) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"the refresh history in {_history(tmp_path)} is neither read nor updated" in err
    assert _tree(_history(tmp_path)) == before


def test_a_history_of_another_key_is_refused_in_one_line(tmp_path, keyed, monkeypatch, capsys):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    site = _tree(tmp_path / "_site")
    monkeypatch.setenv("SEGMENTATION_KEY", "another key, just as long")
    assert _cli_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --history {_history(tmp_path)}: its refreshes were made with another pseudonym key")
    assert err.count("\n") == 1
    assert _tree(tmp_path / "_site") == site


def _foreign_file(history: Path) -> None:
    history.mkdir(parents=True)
    (history / "notes.txt").write_text("mine", encoding="utf-8")


def _foreign_refresh(history: Path) -> None:
    (history / REFRESHES / "holiday-photos").mkdir(parents=True)


def _a_file(history: Path) -> None:
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text("a file", encoding="utf-8")


def _a_link(history: Path) -> None:
    history.parent.mkdir(parents=True, exist_ok=True)
    (history.parent / "elsewhere").mkdir()
    history.symlink_to(history.parent / "elsewhere")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        pytest.param(_foreign_file, "holds entries this program did not write (notes.txt)", id="foreign-file"),
        pytest.param(_foreign_refresh, "(refreshes/holiday-photos)", id="foreign-refresh"),
        pytest.param(_a_file, "is not a directory", id="file"),
        pytest.param(_a_link, "is a symbolic link", id="link"),
    ],
)
def test_a_foreign_history_is_refused_before_anything_runs(tmp_path, keyed, monkeypatch, make, why):
    history = _history(tmp_path)
    make(history)
    monkeypatch.setattr("publishing.build._analyse", lambda *a, **k: pytest.fail("the analysis ran"))
    with pytest.raises(PublishError, match=rf"^--history {history}: .*{re.escape(why)}") as refused:
        refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    assert "\n" not in str(refused.value)


def test_a_history_inside_the_site_is_refused(tmp_path, keyed):
    with pytest.raises(PublishError, match="must lie outside each other"):
        refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"), history=tmp_path / "_site" / "h")


def test_a_line_the_build_did_not_write_is_refused_naming_it(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    path = _history(tmp_path) / LINES
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join([lines[0], '{"note": "added by hand"}\n', *lines[1:]]), encoding="utf-8")
    with pytest.raises(PublishError, match=rf"^{path}, line 2: not a history record this program wrote"):
        refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))


def test_a_stored_file_changed_after_recording_is_refused(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    site = _tree(tmp_path / "_site")
    (stored,) = (_history(tmp_path) / REFRESHES).iterdir()
    with (stored / "segments.csv").open("a", encoding="utf-8") as fh:
        fh.write("c_0123456789abcdef,1\n")
    with pytest.raises(PublishError, match=rf"^{stored / 'segments.csv'}: changed since the build recorded it"):
        refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    assert _tree(tmp_path / "_site") == site


def _line(refresh: str, line: int, lines: int) -> bytes:
    fields = {"refresh": refresh, "snapshot": None, "data_sha256": "d", "bundle_sha256": f"b-{refresh}"}
    fields |= {"line": line, "lines": lines, "segment": line + 1, "persona": "p", "name": "n", "customers": 1}
    fields |= {"share_customers": 1.0, "revenue": 1.0, "share_revenue": 1.0, "predicted_value": None}
    return json.dumps(fields).encode() + b"\n"


def test_sets_cut_short_and_torn_lines_are_ignored(tmp_path):
    whole = _line("a", 0, 2) + _line("a", 1, 2)
    cut = _line("b", 0, 3) + _line("b", 1, 3)  # a set killed after two of its three lines
    again = _line("b", 0, 3) + _line("b", 1, 3) + _line("b", 2, 3)
    torn = _line("c", 0, 1)[:25]  # an append killed in the middle of a line
    sets, end = line_sets(whole + cut + again + torn, tmp_path / LINES)
    assert sets == [("a", "b-a"), ("b", "b-b")]
    assert end == len(whole + cut + again)
    assert line_sets(whole + cut, tmp_path / LINES) == ([("a", "b-a")], len(whole))


def test_the_pseudonym_map_refuses_anything_but_keyed_pseudonyms():
    good = b"customer_id,pseudonym,segment,clv\n17850,c_00000000000000ff,2,1.5\n13047,c_0000000000000001,1,2.0\n"
    assert pseudonym_map(good, source="a.csv") == b"pseudonym,segment\nc_0000000000000001,1\nc_00000000000000ff,2\n"
    with pytest.raises(PublishError, match=r"^a.csv: 1 row\(s\) without a keyed pseudonym"):
        pseudonym_map(b"customer_id,pseudonym,segment\n17850,17850,2\n", source="a.csv")
    with pytest.raises(PublishError, match="no pseudonym column"):
        pseudonym_map(b"customer_id,segment\n17850,2\n", source="a.csv")


def test_a_kept_history_never_lands_in_the_published_site(tmp_path, keyed):
    result = refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    result = refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    published = set(check_site(result.site_dir, bundle_path=result.bundle_path).files)
    assert published == {"index.html", "brief.pdf", "build-info.json", "archive/2011-01-31/brief.pdf"}


def test_under_github_actions_the_build_tells_later_steps_what_it_did(tmp_path, keyed, monkeypatch, capsys):
    outputs = tmp_path / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    data = write_data(tmp_path / "jan.csv", "2011-01-31")
    assert _cli_build(tmp_path, data) == 0
    assert _cli_build(tmp_path, data) == 0
    assert "is up to date" in capsys.readouterr().out
    assert outputs.read_text(encoding="utf-8") == "rebuilt=true\nrecorded=true\nrebuilt=false\nrecorded=false\n"


def test_lines_whose_directory_is_gone_are_ignored_for_the_previous_refresh(tmp_path, keyed):
    refresh_build(tmp_path, write_data(tmp_path / "jan.csv", "2011-01-31"))
    refresh_build(tmp_path, write_data(tmp_path / "feb.csv", "2011-02-28"))
    jan, feb = read_history(_history(tmp_path)).refreshes
    feb.path.rename(tmp_path / "moved-away")  # its lines stay in refreshes.jsonl
    assert [r.name for r in read_history(_history(tmp_path)).refreshes] == [jan.name]
    march = refresh_build(tmp_path, write_data(tmp_path / "mar.csv", "2011-03-31"))
    assert march.history.previous == jan.name and march.history.archive == ("2011-01-31",)
