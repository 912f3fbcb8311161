"""Keep credentials out of everything printed: URLs' userinfo, and the secrets themselves wherever they appear."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["REDACTED", "redact", "url_secrets"]

REDACTED = "***"
# scheme://userinfo@ : userinfo is everything up to the last '@' before the host, never a '/' or space.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s@'\"]+(?:@[^/?#\s@'\"]+)*)@")


def url_secrets(url: str) -> tuple[str, ...]:
    """The credential parts of a URL (user and password, raw and percent-decoded); empty when it has none."""
    match = _USERINFO.search(url)
    if match is None:
        try:
            parts = urlsplit(url)
        except ValueError:
            return ()
        if not parts.username and not parts.password:
            return ()
        found = [parts.username or "", parts.password or ""]
    else:
        user, _, password = match["userinfo"].partition(":")
        found = [user, password]
    found += [unquote(s) for s in found]
    # Longest first, so a token containing the user name is replaced whole.
    return tuple(sorted({s for s in found if len(s) >= 3}, key=len, reverse=True))


def redact(text: str, *secrets: str) -> str:
    """Replace the userinfo of every URL in ``text``, and every given secret, by ``***``.

    Parameters
    ----------
    text
        A message (git's stderr, a success line, an error).
    secrets
        Literal strings to hide wherever they appear (see :func:`url_secrets`).
    """
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text
