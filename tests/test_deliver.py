"""Delivery: the stale/missing guard, and real targets (a directory, a bare git repo, an SMTP server)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from _brief_factory import write_sample_bundle
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from analysis.errors import ConfigError, PublishError
from publishing.brief import build_brief
from publishing.cli import main
from publishing.deliver import (
    BUILD_INFO,
    KEY_ENV,
    CheckedSite,
    SmtpSettings,
    check_site,
    load_key,
    publish_to_dir,
    publish_to_git,
    send_email,
    write_build_info,
)

USER, PASSWORD = "mailer", "s3cret-pw"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_bytes(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("pdf")
    return build_brief(write_sample_bundle(out), out / "brief.pdf").read_bytes()


def sign(site_dir: Path, bundle: Path) -> None:
    """(Re)write the site's signed receipt, as the build does, with the key beside the private directory."""
    key = load_key(bundle.parent.parent, create=True)
    write_build_info(site_dir, bundle_path=bundle, source_name="x.csv", source_sha256="0" * 64, key=key)


@pytest.fixture
def site(tmp_path, pdf_bytes, monkeypatch) -> tuple[Path, Path]:
    """A built site and its bundle, as ``build_all`` leaves them (signed with a key file in ``build/``)."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    bundle = write_sample_bundle(tmp_path / "build" / "private")
    (bundle.parent / "assignments.csv").write_text("customer_id,segment\nC-90017,1\nC-90018,2\n", encoding="utf-8")
    site_dir = tmp_path / "_site"
    (site_dir / "_assets").mkdir(parents=True)
    (site_dir / "index.html").write_text("<!doctype html><title>Segments</title>", encoding="utf-8")
    (site_dir / "_assets" / "site.css").write_text("body { margin: 0; }\n", encoding="utf-8")
    (site_dir / "brief.pdf").write_bytes(pdf_bytes)
    sign(site_dir, bundle)
    return site_dir, bundle


def checked(site: tuple[Path, Path]) -> CheckedSite:
    return check_site(site[0], bundle_path=site[1])


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def tls_server(cert):
    """STARTTLS required, AUTH LOGIN/PLAIN with one user (aiosmtpd only offers AUTH after TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        # handled=False: let aiosmtpd send the 535 reply itself on failure.
        return AuthResult(success=ok, handled=False)

    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def bare_repo(tmp_path) -> Path:
    repo = tmp_path / "pages.git"
    _git("init", "-q", "--bare", str(repo))
    return repo


# --- the guard -------------------------------------------------------------------------------


def test_fresh_site_passes(site):
    result = checked(site)
    assert set(result.info.files) == {"index.html", "brief.pdf", "_assets/site.css"}
    assert set(result.files) == {"index.html", "brief.pdf", "_assets/site.css", BUILD_INFO}
    assert result.files["brief.pdf"] == (site[0] / "brief.pdf").read_bytes()


def _missing_dir(site_dir: Path, bundle: Path) -> None:
    shutil.rmtree(site_dir)


def _no_pdf(site_dir: Path, bundle: Path) -> None:
    (site_dir / "brief.pdf").unlink()


def _no_index(site_dir: Path, bundle: Path) -> None:
    (site_dir / "index.html").unlink()


def _no_receipt(site_dir: Path, bundle: Path) -> None:
    (site_dir / BUILD_INFO).unlink()


def _newer_bundle(site_dir: Path, bundle: Path) -> None:
    bundle.write_text(bundle.read_text(encoding="utf-8").replace("Loyal", "Faithful"), encoding="utf-8")


def _edited_page(site_dir: Path, bundle: Path) -> None:
    (site_dir / "index.html").write_text("<p>edited by hand</p>", encoding="utf-8")


def _edited_asset(site_dir: Path, bundle: Path) -> None:
    (site_dir / "_assets" / "site.css").unlink()


def _no_bundle(site_dir: Path, bundle: Path) -> None:
    bundle.unlink()


REFUSALS = [
    pytest.param(_missing_dir, "no built site", id="site-missing"),
    pytest.param(_no_pdf, "missing brief.pdf", id="no-brief"),
    pytest.param(_no_index, "missing index.html", id="no-index"),
    pytest.param(_no_receipt, f"missing {BUILD_INFO}", id="no-build-info"),
    pytest.param(_newer_bundle, "stale site", id="stale"),
    pytest.param(_edited_page, "index.html changed after the build", id="edited"),
    pytest.param(_edited_asset, "_assets/site.css changed after the build", id="edited-asset"),
    pytest.param(_no_bundle, "bundle not found", id="bundle-missing"),
]


@pytest.mark.parametrize(("spoil", "message"), REFUSALS)
def test_guard_refuses(site, spoil, message):
    spoil(*site)
    with pytest.raises(PublishError, match=message):
        check_site(site[0], bundle_path=site[1])


@pytest.mark.parametrize(("spoil", "message"), REFUSALS)
def test_nothing_delivered_when_refused(site, spoil, message, tmp_path, bare_repo, smtp_server, monkeypatch, capsys):
    controller, inbox = smtp_server
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("SMTP_FROM", "brief@example.org")
    monkeypatch.setenv("SMTP_TO", "ceo@example.org")
    spoil(*site)
    dest = tmp_path / "www"
    code = main(
        ["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-dir", str(dest), "--to-git", str(bare_repo)]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and err.count("\n") == 1
    assert not dest.exists()
    assert _git("--git-dir", str(bare_repo), "for-each-ref").strip() == ""
    assert inbox.envelopes == []


def test_publish_without_target_is_an_error(site, capsys):
    assert main(["publish", "--site", str(site[0]), "--bundle", str(site[1])]) == 2
    assert "no publish target" in capsys.readouterr().err


# --- directory -------------------------------------------------------------------------------


def test_publish_to_dir_copies_and_replaces(site, tmp_path):
    dest = tmp_path / "www" / "segments"
    publish_to_dir(checked(site), dest)
    assert (dest / "index.html").read_bytes() == (site[0] / "index.html").read_bytes()
    assert (dest / "_assets" / "site.css").is_file()
    # The next build drops a page: the publication is replaced as a whole, not merged.
    (site[0] / "_assets" / "site.css").unlink()
    sign(*site)
    publish_to_dir(checked(site), dest)
    assert not (dest / "_assets" / "site.css").exists()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["segments"]  # no temp dirs, journal or lock left


def test_publish_to_dir_refuses_unrelated_directory(site, tmp_path):
    dest = tmp_path / "home"
    dest.mkdir()
    (dest / "thesis.tex").write_text("precious", encoding="utf-8")
    with pytest.raises(PublishError, match="not empty"):
        publish_to_dir(checked(site), dest)
    assert (dest / "thesis.tex").read_text(encoding="utf-8") == "precious"


def test_publish_to_dir_refuses_nesting(site):
    with pytest.raises(PublishError, match="outside"):
        publish_to_dir(checked(site), site[0] / "copy")


# --- git ---------------------------------------------------------------------------------------


def test_publish_to_git_branch(site, bare_repo):
    sha = publish_to_git(checked(site), str(bare_repo), branch="gh-pages", message="first")
    files = _git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert {"index.html", "brief.pdf", "_assets/site.css", BUILD_INFO, ".nojekyll"} <= set(files)
    assert _git("--git-dir", str(bare_repo), "rev-parse", "gh-pages").strip() == sha
    # Same content again: nothing to push.
    assert publish_to_git(checked(site), str(bare_repo), branch="gh-pages") is None
    # New content: a child commit (fast-forward), and removed files leave the branch.
    (site[0] / "_assets" / "site.css").unlink()
    (site[0] / "about.html").write_text("<p>about</p>", encoding="utf-8")
    sign(*site)
    second = publish_to_git(checked(site), str(bare_repo), branch="gh-pages", message="second")
    assert _git("--git-dir", str(bare_repo), "rev-parse", f"{second}^").strip() == sha
    files = _git("--git-dir", str(bare_repo), "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert "about.html" in files and "_assets/site.css" not in files


def test_publish_to_git_bad_repo(site, tmp_path):
    with pytest.raises(PublishError, match="git ls-remote failed"):
        publish_to_git(checked(site), str(tmp_path / "no-such-repo.git"))


def test_cli_publishes_to_dir_and_git(site, tmp_path, bare_repo, capsys):
    dest = tmp_path / "www"
    code = main(
        [
            "publish",
            "--site",
            str(site[0]),
            "--bundle",
            str(site[1]),
            "--to-dir",
            str(dest),
            "--to-git",
            str(bare_repo),
            "--branch",
            "pages",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (dest / "brief.pdf").is_file()
    tree = _git("--git-dir", str(bare_repo), "ls-tree", "--name-only", "pages").split()
    assert "index.html" in tree


# --- email -------------------------------------------------------------------------------------


def _received(inbox: _Inbox):
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    return envelope, message_from_bytes(envelope.content, policy=default_policy)


def test_send_email_plain(site, smtp_server):
    controller, inbox = smtp_server
    to = ("ceo@example.org", "cmo@example.org")
    settings = SmtpSettings(
        host="127.0.0.1", port=controller.port, starttls=False, sender="brief@example.org", recipients=to
    )
    message_id = send_email(checked(site).files["brief.pdf"], settings=settings)
    envelope, msg = _received(inbox)
    assert envelope.rcpt_tos == list(to)
    assert envelope.mail_from == "brief@example.org"
    assert msg["Message-ID"] == message_id
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "brief.pdf"
    assert attachment.get_content() == (site[0] / "brief.pdf").read_bytes()


def test_send_email_starttls_and_auth(site, tls_server, cert):
    controller, inbox = tls_server
    settings = SmtpSettings.from_env(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "SMTP_STARTTLS": "true",
            "SMTP_FROM": "brief@example.org",
            "SMTP_TO": "ceo@example.org, cfo@example.org",
            "SMTP_CAFILE": str(cert[0]),
        }
    )
    send_email(checked(site).files["brief.pdf"], settings=settings)
    envelope, msg = _received(inbox)
    assert envelope.rcpt_tos == ["ceo@example.org", "cfo@example.org"]
    assert msg["To"] == "ceo@example.org, cfo@example.org"


def test_wrong_password_is_refused(site, tls_server, cert):
    controller, inbox = tls_server
    settings = SmtpSettings(
        host="127.0.0.1",
        port=controller.port,
        user=USER,
        password="nope",
        sender="brief@example.org",
        recipients=("ceo@example.org",),
        cafile=cert[0],
    )
    with pytest.raises(PublishError, match="login as 'mailer' refused"):
        send_email(checked(site).files["brief.pdf"], settings=settings)
    assert inbox.envelopes == []


def test_untrusted_certificate_is_refused(site, tls_server):
    controller, inbox = tls_server
    settings = SmtpSettings(
        host="127.0.0.1",
        port=controller.port,
        user=USER,
        password=PASSWORD,
        sender="brief@example.org",
        recipients=("ceo@example.org",),
    )
    with pytest.raises(PublishError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        send_email(checked(site).files["brief.pdf"], settings=settings)
    assert inbox.envelopes == []


def test_unreachable_server(site):
    settings = SmtpSettings(
        host="127.0.0.1",
        port=_free_port(),
        starttls=False,
        timeout=5,
        sender="brief@example.org",
        recipients=("ceo@example.org",),
    )
    with pytest.raises(PublishError, match="cannot connect"):
        send_email(checked(site).files["brief.pdf"], settings=settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"SMTP_TO": "a@example.org"}, "SMTP_HOST", id="no-host"),
        pytest.param(
            {"SMTP_HOST": "mail", "SMTP_PORT": "smtp", "SMTP_TO": "a@example.org"}, "SMTP_PORT", id="port-not-int"
        ),
        pytest.param({"SMTP_HOST": "mail", "SMTP_FROM": "a@example.org"}, "SMTP_TO", id="no-recipient"),
        pytest.param(
            {"SMTP_HOST": "mail", "SMTP_FROM": "a@x", "SMTP_TO": "not an address"}, "email addresses", id="bad-address"
        ),
        pytest.param(
            {
                "SMTP_HOST": "mail.example.org",
                "SMTP_USER": "u@example.org",
                "SMTP_STARTTLS": "false",
                "SMTP_TO": "a@example.org",
            },
            "sent in clear",
            id="password-in-clear",
        ),
        pytest.param(
            {"SMTP_HOST": "mail", "SMTP_STARTTLS": "maybe", "SMTP_TO": "a@example.org"}, "SMTP_STARTTLS", id="bad-bool"
        ),
    ],
)
def test_smtp_settings_are_validated(env, message):
    with pytest.raises(ConfigError, match=message):
        SmtpSettings.from_env(env)


def test_password_never_in_repr():
    settings = SmtpSettings.from_env(
        {"SMTP_HOST": "mail", "SMTP_USER": "u@example.org", "SMTP_PASSWORD": PASSWORD, "SMTP_TO": "a@example.org"}
    )
    assert PASSWORD not in repr(settings)
    assert settings.sender == "u@example.org"
