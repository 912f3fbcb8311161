"""Digests of what shapes an output: files, settings and the code itself.

Used by ``model.json`` (what produced this model) and by the build (rebuild
only when something that shapes the site changed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

__all__ = ["sha256_file", "sha256_json", "tree_sha256", "code_version", "PACKAGE_ROOT"]

PACKAGE_ROOT = Path(__file__).resolve().parent


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(value: object) -> str:
    """Hex SHA-256 of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_sha256(roots: Iterable[Path], *, suffixes: tuple[str, ...] | None = None) -> str:
    """One digest of every file under ``roots`` (paths relative to each root, in sorted order).

    Caches (``__pycache__``) and hidden entries are left out; ``suffixes``
    keeps only files with those endings.
    """
    digest = hashlib.sha256()
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            rel = path.name if path == root else path.relative_to(root).as_posix()
            if "__pycache__" in rel.split("/") or any(part.startswith(".") for part in rel.split("/")):
                continue
            if suffixes is not None and not rel.endswith(suffixes):
                continue
            digest.update(f"{root.name}/{rel}\0".encode())
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


@cache
def code_version() -> str:
    """``<package version>+<digest of the analysis package's code and data files>``."""
    try:
        version = metadata.version("segmentation")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"{version}+{tree_sha256([PACKAGE_ROOT], suffixes=('.py', '.sql', '.toml'))[:12]}"
