"""Publish target: the PDF brief by email, over SMTP with STARTTLS and AUTH."""

from __future__ import annotations

import ipaddress
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from analysis.errors import ConfigError, PublishError

__all__ = ["SmtpSettings", "send_email"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; read with :meth:`from_env`. The password is never in ``repr``."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("SMTP_HOST must name the mail server. Got an empty value.")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"SMTP_PORT must be an int in the range [1, 65535]. Got {self.port!r} instead.")
        bad = [r for r in (self.sender, *self.recipients) if "@" not in r or any(c.isspace() for c in r)]
        if bad:
            raise ConfigError(f"SMTP_FROM and SMTP_TO must be email addresses. Got {bad!r}.")
        if not self.recipients:
            raise ConfigError("SMTP_TO must list at least one recipient (comma-separated). Got none.")
        if self.user and not self.starttls and not _is_loopback(self.host):
            raise ConfigError(
                f"SMTP_USER is set but SMTP_STARTTLS is off for {self.host!r}: the password "
                "would be sent in clear. Turn SMTP_STARTTLS on."
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, recipients: tuple[str, ...] = ()) -> SmtpSettings:
        """Read the settings from the environment.

        ``SMTP_HOST``, ``SMTP_PORT`` (587), ``SMTP_USER``, ``SMTP_PASSWORD``,
        ``SMTP_STARTTLS`` (true), ``SMTP_FROM`` (default: the user), ``SMTP_TO``
        (comma-separated; ``recipients`` are added) and ``SMTP_CAFILE`` (a CA bundle
        to trust, e.g. for a self-signed server certificate).
        """
        env = os.environ if env is None else env
        port_text = env.get("SMTP_PORT", "587").strip()
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f"SMTP_PORT must be an int in the range [1, 65535]. Got {port_text!r} instead.") from None
        tls_text = env.get("SMTP_STARTTLS", "true").strip().lower()
        if tls_text not in _TRUE | _FALSE:
            raise ConfigError(f"SMTP_STARTTLS must be one of true/false/1/0/yes/no. Got {tls_text!r} instead.")
        listed = tuple(r.strip() for r in env.get("SMTP_TO", "").split(",") if r.strip())
        user = env.get("SMTP_USER") or None
        return cls(
            host=env.get("SMTP_HOST", "").strip(),
            port=port,
            starttls=tls_text in _TRUE,
            user=user,
            password=env.get("SMTP_PASSWORD") if user else None,
            sender=env.get("SMTP_FROM", user or "").strip(),
            recipients=tuple(dict.fromkeys(listed + tuple(recipients))),
            cafile=Path(env["SMTP_CAFILE"]) if env.get("SMTP_CAFILE") else None,
        )


def _message(pdf: bytes, filename: str, *, settings: SmtpSettings, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.recipients)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    msg.set_content(body)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return msg


def send_email(
    pdf: bytes,
    *,
    settings: SmtpSettings,
    filename: str = "brief.pdf",
    subject: str = "Customer segments: executive brief",
    body: str = "The executive brief is attached.",
) -> str:
    """Send the PDF as an attachment to every recipient.

    Parameters
    ----------
    pdf
        The brief's bytes, as :func:`~publishing.deliver.check_site` verified them
        (``site.files["brief.pdf"]``), so what is mailed is what the build made.
    filename
        The attachment's name.
    settings
        Server, credentials and recipients (:meth:`SmtpSettings.from_env`).
    subject, body
        The message text.

    Returns
    -------
    str
        The message's ``Message-ID``.

    Raises
    ------
    PublishError
        When the server cannot be reached, TLS or login fails, or any recipient is refused.
    """
    if not pdf.startswith(b"%PDF-"):
        raise PublishError(f"{filename}: the brief to send is not a PDF (it does not start with '%PDF-').")
    msg = _message(pdf, filename, settings=settings, subject=subject, body=body)
    where = f"{settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                context = ssl.create_default_context(
                    cafile=str(settings.cafile) if settings.cafile is not None else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            refused = smtp.send_message(msg, from_addr=settings.sender, to_addrs=list(settings.recipients))
    except smtplib.SMTPAuthenticationError as exc:
        raise PublishError(f"SMTP {where}: login as {settings.user!r} refused ({exc.smtp_code}).") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise PublishError(f"SMTP {where}: every recipient refused: {sorted(exc.recipients)!r}.") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PublishError(f"SMTP {where}: server does not support a required extension: {exc}.") from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise PublishError(f"SMTP {where}: {type(exc).__name__}: {exc}.") from None
    except OSError as exc:
        raise PublishError(f"SMTP {where}: cannot connect: {exc.strerror or exc}.") from None
    if refused:
        raise PublishError(f"SMTP {where}: sent, but these recipients were refused: {sorted(refused)!r}.")
    return str(msg["Message-ID"])
