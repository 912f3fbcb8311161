"""``--out`` and ``--private`` are replaced only when the build wrote them; anything else is refused up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_build import quick_build

from analysis.errors import PublishError
from publishing.deliver import BUILD_INFO, KEY_ENV, check_site

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def _analysis_must_not_run(data, *, config, out_dir, previous=None):
    raise AssertionError("the analysis ran although the target was refused")


def _snapshot(root: Path) -> dict[str, object]:
    """Everything under ``root``: file bytes, link targets, directories."""
    seen: dict[str, object] = {}
    for top, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(top) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                seen[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                seen[rel] = "dir"
            else:
                seen[rel] = path.read_bytes()
    return seen


def _foreign_dir(target: Path) -> None:
    target.mkdir(parents=True)
    (target / "precious.txt").write_text("years of work", encoding="utf-8")


def _regular_file(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("a file, not a directory", encoding="utf-8")


def _link_to_dir(target: Path) -> None:
    elsewhere = target.parent / "elsewhere"
    _foreign_dir(elsewhere)
    target.symlink_to(elsewhere)


def _link_to_nothing(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(target.parent / "missing")


def _only_folders(target: Path) -> None:
    (target / "photos" / "2024").mkdir(parents=True)


def _foreign_receipt(target: Path) -> None:
    _foreign_dir(target)
    (target / BUILD_INFO).write_text('{"note": "not a build receipt"}', encoding="utf-8")


FOREIGN = [
    pytest.param(_foreign_dir, "did not write it", id="foreign-dir"),
    pytest.param(_regular_file, "is not a directory", id="regular-file"),
    pytest.param(_link_to_dir, "symbolic link", id="link-to-dir"),
    pytest.param(_link_to_nothing, "symbolic link", id="dangling-link"),
    pytest.param(_only_folders, "did not write it", id="only-folders"),
    pytest.param(_foreign_receipt, "did not write it", id="foreign-json"),
]


@pytest.mark.parametrize("option", ["out", "private"])
@pytest.mark.parametrize(("make", "message"), FOREIGN)
def test_foreign_target_is_refused_before_the_analysis(tmp_path, monkeypatch, option, make, message):
    target = tmp_path / "_site" if option == "out" else tmp_path / "build" / "private"
    make(target)
    before = _snapshot(tmp_path)
    with pytest.raises(PublishError) as refused:
        quick_build(monkeypatch, tmp_path, analyse=_analysis_must_not_run)
    text = str(refused.value)
    assert text.startswith(f"--{option} {target}: ") and message in text and "\n" not in text
    after = _snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before  # nothing that was there is changed or gone
    assert set(after) - set(before) <= {"build", "build/.build.lock", "build/.signing-key", "data.csv"}


def _own_site_with_extra(root: Path, monkeypatch) -> Path:
    quick_build(monkeypatch, root)
    (root / "_site" / "precious.txt").write_text("added by hand", encoding="utf-8")
    return root / "_site" / "precious.txt"


def _own_private_with_extra(root: Path, monkeypatch) -> Path:
    quick_build(monkeypatch, root)
    (root / "build" / "private" / "notes.md").write_text("added by hand", encoding="utf-8")
    return root / "build" / "private" / "notes.md"


@pytest.mark.parametrize(
    ("spoil", "option"),
    [
        pytest.param(_own_site_with_extra, "out", id="file-added-to-site"),
        pytest.param(_own_private_with_extra, "private", id="file-added-to-private"),
    ],
)
def test_file_added_to_a_built_tree_is_never_deleted(tmp_path, monkeypatch, spoil, option):
    added = spoil(tmp_path, monkeypatch)
    # Forced: a private directory with an extra file still backs an up-to-date site, which is then left alone.
    with pytest.raises(PublishError, match=rf"^--{option} .*did not write \({added.name}\).*Move them away"):
        quick_build(monkeypatch, tmp_path, analyse=_analysis_must_not_run, force=True)
    assert added.read_text(encoding="utf-8") == "added by hand"


@pytest.mark.parametrize("empty", [False, True], ids=["missing", "empty"])
def test_missing_or_empty_targets_are_fine(tmp_path, monkeypatch, empty):
    if empty:
        (tmp_path / "_site").mkdir()
        (tmp_path / "build" / "private").mkdir(parents=True)
    result = quick_build(monkeypatch, tmp_path)
    assert check_site(result.site_dir, bundle_path=result.bundle_path).info == result.info


def test_a_previous_build_is_replaced(tmp_path, monkeypatch):
    first = quick_build(monkeypatch, tmp_path)
    second = quick_build(monkeypatch, tmp_path, force=True)
    assert not second.up_to_date
    assert check_site(second.site_dir, bundle_path=second.bundle_path).info == first.info  # same input, same bytes


def test_trees_of_the_previous_version_are_recognised(tmp_path, monkeypatch):
    """A site with an unsigned receipt and a private dir without marker, as builds before this one left them."""
    result = quick_build(monkeypatch, tmp_path)
    receipt = json.loads((result.site_dir / BUILD_INFO).read_text(encoding="utf-8"))
    del receipt["signature"]
    (result.site_dir / BUILD_INFO).write_text(json.dumps(receipt), encoding="utf-8")
    (result.private_dir / ".segmentation-private.json").unlink()
    (result.private_dir / "model.json").unlink()  # builds of that time wrote no model
    assert sorted(p.name for p in result.private_dir.iterdir()) == ["assignments.csv", "bundle.json"]
    quick_build(monkeypatch, tmp_path)
    assert (result.private_dir / ".segmentation-private.json").is_file()


def test_unmarked_private_dir_of_another_bundle_is_refused(tmp_path, monkeypatch):
    result = quick_build(monkeypatch, tmp_path)
    (result.private_dir / ".segmentation-private.json").unlink()
    (result.private_dir / "bundle.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PublishError, match="^--private .*did not write it"):
        quick_build(monkeypatch, tmp_path, analyse=_analysis_must_not_run)
    assert (result.private_dir / "bundle.json").read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("option", ["--out", "--private"])
def test_cli_refuses_a_foreign_directory_in_one_line(tmp_path, option):
    target = tmp_path / "home"
    _foreign_dir(target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "publishing", "build", option, str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {option} {target}: is not empty") and done.stderr.count("\n") == 1
    assert (target / "precious.txt").read_text(encoding="utf-8") == "years of work"
    assert sorted(p.name for p in target.iterdir()) == ["precious.txt"]
