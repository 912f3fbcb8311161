"""A run's outputs appear together or not at all, in a directory the program owns.

``python -m analysis run --out DIR`` writes ``bundle.json``, the private
``assignments.csv`` and ``model.json`` (and ``run.json``, a small manifest
with the checksum of each). They are written into a private staging directory
beside ``DIR`` and swapped in with :func:`analysis._fs.replace_dir`, so a kill,
a full disk or a write error leaves either the complete previous set or the
complete new one, and no partial file with raw customer ids under any name.

Ownership: ``DIR`` may be missing, empty, or hold only files this program
writes there; anything else is refused before the analysis starts, so a
mistyped ``--out`` never deletes a user's files. Private outputs are
owner-only (``0700`` directory, ``0600`` files).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from analysis._fs import PRIVATE_DIR_MODE, recover_dir, replace_dir, write_private_file
from analysis.errors import OutputError

__all__ = ["MANIFEST", "OUTPUT_NAMES", "check_output_dir", "commit_outputs", "read_manifest"]

MANIFEST = "run.json"
OUTPUT_NAMES = frozenset({"bundle.json", "assignments.csv", "model.json", MANIFEST})
_STAGING = ".{name}.new-*"

Writer = Callable[[BinaryIO], None]


def _owned(path: Path) -> bool:
    """True when every entry of ``path`` is a regular file with a name this program writes."""
    try:
        entries = list(path.iterdir())
    except OSError:
        return False
    return all(p.name in OUTPUT_NAMES and p.is_file() and not p.is_symlink() for p in entries)


def _writable_ancestor(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path("/")


def check_output_dir(out: Path) -> None:
    """Refuse, before any work, an output directory the run could not or must not replace.

    Raises
    ------
    OutputError
        ``out`` is a file or a symbolic link, lies under a file, cannot be
        written, or is a directory holding files this program did not write.
    """
    out = Path(out)
    if out.is_symlink():
        raise OutputError(f"{out}: --out is a symbolic link; give a real directory (or a new one).")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: --out is a file, not a directory; give a new or empty directory.")
    base = out.absolute().parent if out.exists() else _writable_ancestor(out)
    if not base.is_dir():
        raise OutputError(f"{out}: cannot create the output directory: {base} is a file, not a directory.")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write the outputs: {base} is not writable.")
    if out.is_dir() and not _owned(out):
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_NAMES or not p.is_file())
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(
            f"{out}: the output directory holds files this program did not write ({shown}); "
            "give a new or empty directory so nothing of yours is replaced."
        )


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def commit_outputs(out: Path, files: Mapping[str, Writer]) -> dict[str, str]:
    """Write ``files`` (name -> writer) as the new content of ``out``, all or nothing.

    A ``run.json`` manifest with the SHA-256 of every file is added, so a
    reader can check that a set belongs together (:func:`read_manifest`).
    Leftovers of an interrupted earlier commit are cleaned first.

    Returns
    -------
    dict
        ``{file name: sha256}`` of the committed files.

    Raises
    ------
    OutputError
        The files could not be written (full disk, permissions, ...); the
        previous content of ``out`` is untouched and no staging file remains.
    """
    out = Path(out).absolute()
    unknown = sorted(set(files) - OUTPUT_NAMES)
    if unknown or MANIFEST in files:
        raise ValueError(f"unexpected output names {unknown or [MANIFEST]!r}; allowed: {sorted(OUTPUT_NAMES)!r}")
    check_output_dir(out)
    recover_dir(out, owned=_owned, patterns=[_STAGING.format(name=out.name)])
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the outputs: {exc.strerror or exc}.") from None
    try:
        os.chmod(stage, PRIVATE_DIR_MODE)
        sums = {}
        for name, write in files.items():
            write_private_file(stage / name, write)
            sums[name] = _digest(stage / name)
        manifest = (json.dumps({"files": sums}, indent=2, sort_keys=True) + "\n").encode("utf-8")
        write_private_file(stage / MANIFEST, lambda fh: fh.write(manifest))
        replace_dir(stage, out, tag=stage.name.rsplit("-", 1)[-1])
    except OSError as exc:
        raise OutputError(
            f"{out}: cannot write the outputs ({exc.strerror or exc}); the previous outputs are unchanged."
        ) from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return sums


def read_manifest(out: Path) -> dict[str, str]:
    """Return ``{file: sha256}`` of a committed output directory, checking every file against it.

    Raises
    ------
    OutputError
        No manifest, or a file missing or changed since the run wrote it.
    """
    out = Path(out)
    path = out / MANIFEST
    try:
        sums = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputError(f"{path}: not the manifest of a complete run; run the analysis again.") from None
    bad = [name for name, digest in sorted(sums.items()) if not (out / name).is_file() or _digest(out / name) != digest]
    if bad:
        raise OutputError(f"{out}: {', '.join(bad)} changed or missing since the run wrote them; run it again.")
    return dict(sums)
