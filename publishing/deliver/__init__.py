"""Delivering a built site: the guard (:func:`check_site`) and three targets.

Every target is called only after :func:`check_site` passed: a missing,
incomplete, edited or stale site is never copied, pushed or mailed.
"""

from __future__ import annotations

from publishing.deliver._directory import publish_to_dir
from publishing.deliver._email import SmtpSettings, send_email
from publishing.deliver._git import publish_to_git
from publishing.deliver._site import (
    BUILD_INFO,
    BuildInfo,
    check_site,
    sha256_file,
    write_build_info,
)

__all__ = [
    "BUILD_INFO",
    "BuildInfo",
    "SmtpSettings",
    "check_site",
    "publish_to_dir",
    "publish_to_git",
    "send_email",
    "sha256_file",
    "write_build_info",
]
