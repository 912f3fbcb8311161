"""The built site's receipt (``build-info.json``) and the guard every publish target runs first."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from analysis.errors import PublishError

__all__ = [
    "BUILD_INFO",
    "REQUIRED_FILES",
    "BuildInfo",
    "check_site",
    "sha256_file",
    "write_build_info",
]

BUILD_INFO = "build-info.json"
REQUIRED_FILES = ("index.html", "brief.pdf")


class BuildInfo(BaseModel):
    """What a site was built from: no time stamps, so a rebuild gives the same bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bundle_sha256: str
    source_name: str
    source_sha256: str
    files: dict[str, str]


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_build_info(site_dir: Path, *, bundle_path: Path, source_name: str, source_sha256: str) -> BuildInfo:
    """Write ``site_dir/build-info.json``: checksums of the bundle and of every file of the site."""
    files = sorted(
        p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*") if p.is_file() and p.name != BUILD_INFO
    )
    info = BuildInfo(
        bundle_sha256=sha256_file(bundle_path),
        source_name=source_name,
        source_sha256=source_sha256,
        files={name: sha256_file(site_dir / name) for name in files},
    )
    (site_dir / BUILD_INFO).write_text(json.dumps(info.model_dump(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return info


def check_site(site_dir: Path, *, bundle_path: Path) -> BuildInfo:
    """Refuse to publish a site that is missing, incomplete, edited or older than its bundle.

    Parameters
    ----------
    site_dir
        The built site (``_site/``).
    bundle_path
        The bundle the site must have been built from (``build/bundle.json``).

    Returns
    -------
    BuildInfo
        The site's receipt, when every check passed.

    Raises
    ------
    PublishError
        Naming the first failed check and what to run.
    """
    site_dir, bundle_path = Path(site_dir), Path(bundle_path)
    rebuild = "run `nox -s build` first"
    if not site_dir.is_dir():
        raise PublishError(f"{site_dir}: no built site; {rebuild}.")
    missing = [name for name in (*REQUIRED_FILES, BUILD_INFO) if not (site_dir / name).is_file()]
    if missing:
        raise PublishError(f"{site_dir}: incomplete site, missing {', '.join(missing)}; {rebuild}.")
    try:
        info = BuildInfo.model_validate_json((site_dir / BUILD_INFO).read_text(encoding="utf-8"))
    except ValidationError:
        raise PublishError(f"{site_dir / BUILD_INFO}: not a valid build receipt; {rebuild}.") from None
    if not bundle_path.is_file():
        raise PublishError(f"{bundle_path}: bundle not found, so the site cannot be checked; {rebuild}.")
    current = sha256_file(bundle_path)
    if current != info.bundle_sha256:
        raise PublishError(
            f"{site_dir}: stale site, built from bundle sha256 {info.bundle_sha256[:12]} but "
            f"{bundle_path} is now {current[:12]}; {rebuild}."
        )
    changed = [
        name
        for name, digest in sorted(info.files.items())
        if not (site_dir / name).is_file() or sha256_file(site_dir / name) != digest
    ]
    if changed:
        raise PublishError(f"{site_dir}: {', '.join(changed)} changed after the build; {rebuild}.")
    return info
