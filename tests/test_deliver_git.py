"""The git target: credentials never shown, and the remote's own reason when a push is refused.

A real smart-HTTP git server (``git http-backend`` behind ``http.server`` on
127.0.0.1, Basic auth) receives the pushes; hooks run in real bare repositories.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import test_deliver as base

import publishing.deliver._git as git_module
from analysis.errors import PublishError
from publishing.cli import main
from publishing.deliver import git_failure_reason, publish_to_git, redact, url_secrets

# The site and bare-repository fixtures are shared with test_deliver.
site, pdf_bytes, bare_repo = base.site, base.pdf_bytes, base.bare_repo
USER, TOKEN = "deploy", "ghp_S3cretT0kenValue"


@dataclass
class _GitServer:
    root: Path
    port: int = 0
    authorizations: list[str] = field(default_factory=list)

    def url(self, userinfo: str | None = f"{USER}:{TOKEN}", repo: str = "pages.git") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}/{repo}"


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    chunks = []
    while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()
    handler.rfile.readline()
    return b"".join(chunks)


def _handler(server: _GitServer) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server hook name
            self._serve()

        def do_POST(self) -> None:  # noqa: N802 - http.server hook name
            self._serve()

        def _serve(self) -> None:
            body = _read_body(self)
            server.authorizations.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="pages"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": USER,
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
            status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
            self.send_response(status)
            for key, value in headers:
                if key.lower() != "status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def git_server(tmp_path) -> Iterator[_GitServer]:
    root = tmp_path / "served"
    root.mkdir()
    base._git("init", "-q", "--bare", str(root / "pages.git"))
    server = _GitServer(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


def _git_argv(monkeypatch) -> list[list[str]]:
    """Record every git command line the target runs (the real subprocess.run still runs them)."""
    seen: list[list[str]] = []
    real = subprocess.run

    def recording(cmd, *args, **kwargs):
        seen.append(list(cmd))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(git_module.subprocess, "run", recording)
    return seen


# --- credentials ---------------------------------------------------------------------------------


def test_push_over_http_never_shows_the_token(site, git_server, monkeypatch, capsys):
    argv = _git_argv(monkeypatch)
    code = main(["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-git", git_server.url()])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("git: pushed ") and f"to http://***@127.0.0.1:{git_server.port}/pages.git gh-pages" in out
    assert TOKEN not in out + err
    assert not [cmd for cmd in argv if any(TOKEN in arg for arg in cmd)]  # not even in `ps`
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    assert expected in git_server.authorizations  # the credentials did reach the server
    tree = base._git("--git-dir", str(git_server.root / "pages.git"), "ls-tree", "--name-only", "gh-pages").split()
    assert "index.html" in tree
    # Publishing again: nothing to push, and still no token in the message.
    assert main(["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-git", git_server.url()]) == 0
    out, err = capsys.readouterr()
    assert "already holds this site" in out and TOKEN not in out + err


@pytest.mark.parametrize("userinfo", [f"{USER}:wrong-{TOKEN}", f"wrong-{TOKEN}"], ids=["user-and-password", "token"])
def test_refused_credentials_are_redacted_in_the_error(site, git_server, userinfo, capsys):
    code = main(["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-git", git_server.url(userinfo)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"wrong-{TOKEN}" not in err and "http://***@127.0.0.1" in err
    assert "Authentication failed" in err


@pytest.mark.parametrize(
    ("text", "secrets_from", "expected"),
    [
        pytest.param(
            "fatal: unable to access 'https://user:tok3n@host/x.git/': 403",
            "https://user:tok3n@host/x.git",
            "fatal: unable to access 'https://***@host/x.git/': 403",
            id="user-password",
        ),
        pytest.param("push to https://tok3n@host/r", "https://tok3n@host/r", "push to https://***@host/r", id="token"),
        pytest.param(
            "remote: invalid token p%40ss and p@ss",
            "http://u:p%40ss@h/r",
            "remote: invalid token *** and ***",
            id="percent-encoded-secret-alone",
        ),
        pytest.param("git@host:org/repo.git", "git@host:org/repo.git", "git@host:org/repo.git", id="scp-no-secret"),
    ],
)
def test_redact(text, secrets_from, expected):
    assert redact(text, *url_secrets(secrets_from)) == expected


# --- the remote's own reason -------------------------------------------------------------------------


def _with_hook(repo: Path, script: str) -> None:
    hook = repo / "hooks" / "pre-receive"
    hook.write_text(script, encoding="utf-8")
    hook.chmod(0o755)


def test_a_push_refused_by_a_hook_shows_the_hook_reason(site, bare_repo):
    _with_hook(bare_repo, "#!/bin/sh\necho 'gh-pages is frozen until the audit ends (ticket OPS-42)' >&2\nexit 1\n")
    with pytest.raises(PublishError) as refused:
        publish_to_git(base.checked(site), str(bare_repo))
    text = str(refused.value)
    assert "the remote said: gh-pages is frozen until the audit ends (ticket OPS-42)" in text
    assert "(pre-receive hook declined)" in text
    assert "failed to push some refs" not in text and "\n" not in text


def test_a_hook_reason_over_http_is_shown_with_credentials_redacted(site, git_server, capsys):
    _with_hook(git_server.root / "pages.git", f"#!/bin/sh\necho 'rejected for {TOKEN}' >&2\nexit 1\n")
    code = main(["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-git", git_server.url()])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "the remote said: rejected for ***" in err and TOKEN not in err


def test_a_missing_repository_shows_gits_fatal_line(site, tmp_path):
    missing = tmp_path / "no-such-repo.git"
    with pytest.raises(PublishError) as refused:
        publish_to_git(base.checked(site), str(missing))
    text = str(refused.value)
    assert f"fatal: '{missing}' does not appear to be a git repository" in text
    assert "the repository exists" not in text


def test_failure_reason_prefers_the_remote_then_fatal():
    pushed = "remote: \nremote: no pushes on Fridays\nTo /r.git\n ! [remote rejected] abc -> gh-pages (hook)\n"
    assert git_failure_reason(pushed + "error: failed to push some refs to '/r.git'\n") == (
        "the remote said: no pushes on Fridays; [remote rejected] abc -> gh-pages (hook)"
    )
    missing = "fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n"
    advice = "\nPlease make sure you have the correct access rights\nand the repository exists.\n"
    assert git_failure_reason(missing + advice) == missing.splitlines()[0]
    assert git_failure_reason("") == "(no message)"
