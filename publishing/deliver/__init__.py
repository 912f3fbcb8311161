"""Delivering a built site: the guard (:func:`check_site`) and three targets.

Every target is called only after :func:`check_site` passed, and delivers the
bytes it verified: a missing, incomplete, edited, padded, stale or leaking site
is never copied, pushed or mailed.
"""

from __future__ import annotations

from publishing.deliver._directory import publish_to_dir
from publishing.deliver._email import SmtpSettings, send_email
from publishing.deliver._git import git_failure_reason, publish_to_git
from publishing.deliver._redact import redact, url_secrets
from publishing.deliver._signing import KEY_ENV, KEY_FILE, SigningKey, load_key
from publishing.deliver._site import (
    BUILD_INFO,
    BuildInfo,
    CheckedSite,
    check_site,
    sha256_file,
    write_build_info,
)

__all__ = [
    "BUILD_INFO",
    "KEY_ENV",
    "KEY_FILE",
    "BuildInfo",
    "CheckedSite",
    "SigningKey",
    "SmtpSettings",
    "check_site",
    "git_failure_reason",
    "load_key",
    "publish_to_dir",
    "publish_to_git",
    "redact",
    "send_email",
    "sha256_file",
    "url_secrets",
    "write_build_info",
]
