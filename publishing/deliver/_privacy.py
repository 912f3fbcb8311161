"""Recognise the private export (raw customer ids) whatever it has been renamed to."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

__all__ = ["PRIVATE_NAMES", "looks_like_id_table", "private_lookalikes"]

PRIVATE_NAMES = ("assignments.csv",)
_HEAD = 1 << 16
# The raw-id column as the pipeline writes it and as the usual inputs spell it (Customer ID, CustomerID).
_ID_CELL = re.compile(r"customer[ _-]?id", re.IGNORECASE)
_DELIMITERS = re.compile(r"[,\t;|]")


def _first_line(data: bytes) -> str | None:
    head = data[:_HEAD]
    if head[:2] == b"\x1f\x8b":  # a gzipped export is still the export
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(data)).read(_HEAD)
        except (OSError, EOFError):
            return None
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", errors="ignore")
    else:
        try:
            text = head.split(b"\n", 1)[0].decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    return text.splitlines()[0] if text.strip() else None


def looks_like_id_table(data: bytes) -> bool:
    """Whether ``data`` is delimited text whose header row has a customer-id column.

    Parameters
    ----------
    data
        A file's bytes (plain, UTF-8/UTF-16 with or without BOM, or gzipped).
    """
    line = _first_line(data)
    if line is None:
        return False
    cells = (cell.strip().strip("\"'").strip() for cell in _DELIMITERS.split(line))
    return any(_ID_CELL.fullmatch(cell) for cell in cells)


def _private_digests(private_dir: Path) -> dict[str, str]:
    digests: dict[str, str] = {}
    if not private_dir.is_dir():
        return digests
    for top, _dirs, names in os.walk(private_dir, followlinks=False):
        for name in names:
            path = Path(top) / name
            st = path.lstat()
            # An empty file carries nothing private, and would match every empty site file (.nojekyll).
            if stat.S_ISREG(st.st_mode) and st.st_size:
                with path.open("rb") as fh:  # assignments.csv can be large: hash it in blocks
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
                digests[digest] = path.relative_to(private_dir).as_posix()
    return digests


def private_lookalikes(files: Mapping[str, bytes], private_dir: Path) -> list[str]:
    """Name every file that is, or looks like, private analysis output.

    Parameters
    ----------
    files
        Relative path -> bytes of what would be published.
    private_dir
        The private directory (``build/private``); a byte-identical copy of any of its files is caught.

    Returns
    -------
    list of str
        ``"path (why)"`` for each suspect file, sorted; empty when none.
    """
    private = _private_digests(Path(private_dir))
    found = []
    for name, data in sorted(files.items()):
        copy_of = private.get(hashlib.sha256(data).hexdigest()) if data else None
        if PurePosixPath(name).name in PRIVATE_NAMES:
            found.append(f"{name} (named like the private export)")
        elif copy_of is not None:
            found.append(f"{name} (a copy of {private_dir}/{copy_of})")
        elif looks_like_id_table(data):
            found.append(f"{name} (a table with a customer-id column)")
    return found
