"""The key that signs ``build-info.json`` (HMAC-SHA256), so an edited site cannot pass for a built one.

The key comes from ``SEGMENTATION_KEY`` when it is set; a separate signing
key is derived from it (domain separation), so the receipt's MAC never equals
anything the pseudonymisation computes with the same secret. Without the
variable, the first build writes 32 random bytes to ``build/.signing-key``
(mode 0600, next to the private directory) and every later build and publish
reads them from there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import PublishError

__all__ = ["KEY_ENV", "KEY_FILE", "SigningKey", "canonical_json", "load_key"]

KEY_ENV = "SEGMENTATION_KEY"
KEY_FILE = ".signing-key"
_DOMAIN = b"segmentation build-info v1"
_KEY_BYTES = 32


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, ASCII only."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


@dataclass(frozen=True)
class SigningKey:
    """A derived signing key and where it came from (``source`` is shown in errors, ``secret`` never)."""

    secret: bytes = field(repr=False)
    source: str
    created: bool = False

    def sign(self, payload: Mapping[str, Any]) -> str:
        """Hex HMAC-SHA256 of the payload's canonical JSON."""
        return hmac.new(self.secret, canonical_json(payload), hashlib.sha256).hexdigest()

    def verify(self, payload: Mapping[str, Any], signature: str) -> bool:
        """Whether ``signature`` was made by this key over ``payload`` (constant-time comparison)."""
        return hmac.compare_digest(self.sign(payload), signature)

    def check(self) -> str:
        """A short check value of the key (HMAC of a fixed text): equal checks mean the same key, never the key."""
        return hmac.new(self.secret, b"segmentation signing key check v1", hashlib.sha256).hexdigest()[:16]


def _derive(material: bytes) -> bytes:
    return hmac.new(material, _DOMAIN, hashlib.sha256).digest()


def _read_key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise PublishError(f"{path}: cannot read the signing key ({exc.strerror}); it must be a regular file.") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise PublishError(f"{path}: the signing key must be a regular file.")
        if st.st_mode & 0o077:
            raise PublishError(
                f"{path}: the signing key must be readable by its owner only (mode 0600). "
                f"Got mode {stat.S_IMODE(st.st_mode):04o}."
            )
        material = fh.read(_KEY_BYTES + 1)
    if len(material) != _KEY_BYTES:
        raise PublishError(
            f"{path}: the signing key must hold {_KEY_BYTES} bytes. Got {len(material)}; delete it and rebuild."
        )
    return material


def _create_key_file(path: Path) -> bytes:
    material = secrets.token_bytes(_KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(material)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return material


def load_key(state_dir: Path, *, create: bool, env: Mapping[str, str] | None = None) -> SigningKey:
    """The signing key for the build whose private directory lies in ``state_dir``.

    Parameters
    ----------
    state_dir
        The private directory's parent (``build/``), where ``.signing-key`` lives.
    create
        Create the key file when it is missing (the build does; publish does not).
    env
        The environment to read ``SEGMENTATION_KEY`` from (default ``os.environ``).

    Returns
    -------
    SigningKey
        With ``created=True`` when the key file was made just now.

    Raises
    ------
    PublishError
        No key (publish before any build), or a key file that is a link, too open or the wrong size.
    """
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        return SigningKey(_derive(env[KEY_ENV].encode("utf-8")), source=f"${KEY_ENV}")
    path = Path(state_dir) / KEY_FILE
    try:
        return SigningKey(_derive(_read_key_file(path)), source=str(path))
    except FileNotFoundError:
        if not create:
            raise PublishError(
                f"{path}: no signing key ({KEY_ENV} is not set and no build has created this file); "
                "run `nox -s build` first."
            ) from None
    return SigningKey(_derive(_create_key_file(path)), source=str(path), created=True)
