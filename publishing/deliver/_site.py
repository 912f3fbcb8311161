"""The built site's signed receipt (``build-info.json``) and the guard every publish target runs first.

The receipt lists every file the build wrote with its SHA-256 (the manifest)
and is signed with the project's key (:mod:`publishing.deliver._signing`).
:func:`check_site` reads the site once, without following links, and returns
the verified bytes: the targets deliver exactly those, never a directory walk.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from analysis.errors import PublishError
from publishing.deliver._fs import PUBLIC_MODES, read_nofollow, walk_files, write_atomic
from publishing.deliver._privacy import private_lookalikes
from publishing.deliver._signing import SigningKey, load_key

__all__ = [
    "BUILD_INFO",
    "REQUIRED_FILES",
    "BuildInfo",
    "CheckedSite",
    "check_site",
    "sha256_file",
    "write_build_info",
]

BUILD_INFO = "build-info.json"
REQUIRED_FILES = ("index.html", "brief.pdf")
_REBUILD = "run `nox -s build` first"


class BuildInfo(BaseModel):
    """What a site was built from: no time stamps, so a rebuild with the same key gives the same bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bundle_sha256: str
    source_name: str
    source_sha256: str
    files: dict[str, str]
    fingerprint: str | None = None
    inputs: dict[str, str] | None = None
    signature: str

    def payload(self) -> dict[str, Any]:
        """Everything the signature covers (all but the signature).

        ``fingerprint`` and ``inputs`` (what the build was made from, see
        :mod:`publishing._fingerprint`) are left out when absent, so receipts
        written before they existed still verify.
        """
        payload = self.model_dump(exclude={"signature"})
        for name in ("fingerprint", "inputs"):
            if payload[name] is None:
                del payload[name]
        return payload


@dataclass(frozen=True)
class CheckedSite:
    """A site that passed :func:`check_site`, with the bytes to deliver.

    Attributes
    ----------
    site_dir
        Where it was read from.
    info
        Its verified receipt.
    files
        Relative path -> bytes of every file to publish (the manifest plus ``build-info.json``).
    """

    site_dir: Path
    info: BuildInfo
    files: Mapping[str, bytes]

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_build_info(
    site_dir: Path,
    *,
    bundle_path: Path,
    source_name: str,
    source_sha256: str,
    key: SigningKey,
    inputs: Mapping[str, str] | None = None,
    fingerprint: str | None = None,
) -> BuildInfo:
    """Write ``site_dir/build-info.json``: the bundle's checksum and every site file's, signed with ``key``.

    ``inputs`` (name -> digest of everything that shaped the build) and their
    one-digest ``fingerprint`` are signed with the rest, so the next build can
    trust them to decide that nothing changed.
    """
    site_dir = Path(site_dir)
    names = [n for n in walk_files(site_dir, what="site") if n != BUILD_INFO]
    info = BuildInfo(
        bundle_sha256=sha256_file(bundle_path),
        source_name=source_name,
        source_sha256=source_sha256,
        files={name: hashlib.sha256(read_nofollow(site_dir, name)).hexdigest() for name in names},
        fingerprint=fingerprint,
        inputs=None if inputs is None else dict(inputs),
        signature="",
    )
    info = info.model_copy(update={"signature": key.sign(info.payload())})
    text = json.dumps(info.model_dump(exclude_none=True), indent=2, sort_keys=True) + "\n"
    write_atomic(site_dir / BUILD_INFO, text.encode("utf-8"), mode=PUBLIC_MODES.files)
    return info


def _check_root(site_dir: Path) -> None:
    try:
        mode = site_dir.lstat().st_mode
    except FileNotFoundError:
        raise PublishError(f"{site_dir}: no built site; {_REBUILD}.") from None
    if stat.S_ISLNK(mode):
        raise PublishError(f"{site_dir}: the site is a symbolic link; give the built directory itself.")
    if not stat.S_ISDIR(mode):
        raise PublishError(f"{site_dir}: not a directory; {_REBUILD}.")


def _read_receipt(
    site_dir: Path, present: list[str], key: SigningKey | None, state_dir: Path
) -> tuple[BuildInfo, bytes]:
    missing = [name for name in (*REQUIRED_FILES, BUILD_INFO) if name not in present]
    if missing:
        raise PublishError(f"{site_dir}: incomplete site, missing {', '.join(missing)}; {_REBUILD}.")
    raw = read_nofollow(site_dir, BUILD_INFO)
    try:
        info = BuildInfo.model_validate_json(raw)
    except ValidationError:
        raise PublishError(f"{site_dir / BUILD_INFO}: not a valid signed build receipt; {_REBUILD}.") from None
    key = key if key is not None else load_key(state_dir, create=False)
    if not key.verify(info.payload(), info.signature):
        raise PublishError(
            f"{site_dir / BUILD_INFO}: signature does not match the signing key from {key.source} "
            f"(the receipt was edited, or signed with another key); {_REBUILD}."
        )
    return info, raw


def check_site(site_dir: Path, *, bundle_path: Path, key: SigningKey | None = None) -> CheckedSite:
    """Refuse to publish a site that is missing, incomplete, edited, padded, stale or leaking.

    Parameters
    ----------
    site_dir
        The built site (``_site/``); neither it nor anything in it may be a symbolic link.
    bundle_path
        The bundle the site must have been built from (``build/private/bundle.json``);
        its directory is the private output no published file may copy.
    key
        The signing key; by default read as the build does (``SEGMENTATION_KEY``
        or the key file beside the private directory).

    Returns
    -------
    CheckedSite
        The receipt and the verified bytes of every file to deliver.

    Raises
    ------
    PublishError
        Naming the first failed check (and every file it concerns) and what to run.
    """
    site_dir, bundle_path = Path(site_dir), Path(bundle_path)
    _check_root(site_dir)
    present = walk_files(site_dir, what="site")
    info, receipt = _read_receipt(site_dir, present, key, bundle_path.parent.parent)
    if not bundle_path.is_file():
        raise PublishError(f"{bundle_path}: bundle not found, so the site cannot be checked; {_REBUILD}.")
    current = sha256_file(bundle_path)
    if current != info.bundle_sha256:
        raise PublishError(
            f"{site_dir}: stale site, built from bundle sha256 {info.bundle_sha256[:12]} but "
            f"{bundle_path} is now {current[:12]}; {_REBUILD}."
        )
    extra = sorted(set(present) - set(info.files) - {BUILD_INFO})
    if extra:
        raise PublishError(
            f"{site_dir}: {', '.join(extra)} not in the build's manifest ({BUILD_INFO}); only files the build "
            "wrote are published. Remove them, or rebuild."
        )
    files, changed = {}, []
    for name, digest in sorted(info.files.items()):
        data = read_nofollow(site_dir, name) if name in present else None
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            changed.append(name)
        else:
            files[name] = data
    if changed:
        raise PublishError(f"{site_dir}: {', '.join(changed)} changed after the build; {_REBUILD}.")
    files[BUILD_INFO] = receipt
    suspects = private_lookalikes(files, bundle_path.parent)
    if suspects:
        raise PublishError(f"{site_dir}: refusing to publish what looks like private output: {', '.join(suspects)}.")
    return CheckedSite(site_dir=site_dir, info=info, files=files)
