"""The directory target (modes, links, leftovers, interruptions) and a publish to several targets at once."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
import test_deliver as base
from aiosmtpd.controller import Controller

import publishing.deliver as deliver
import publishing.deliver._directory as directory_module
from analysis.errors import PublishError
from publishing.cli import EXIT_NONE, EXIT_PARTIAL, main
from publishing.deliver import KEY_ENV, publish_to_dir

ROOT = Path(__file__).resolve().parent.parent
# The site, signing and SMTP fixtures are shared with test_deliver.
site, pdf_bytes, smtp_server, bare_repo = base.site, base.pdf_bytes, base.smtp_server, base.bare_repo


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in (root, *root.rglob("*"))}


# --- modes ---------------------------------------------------------------------------------------


def test_published_files_are_world_readable_under_a_strict_umask(site, tmp_path):
    previous = os.umask(0o077)
    try:
        dest = publish_to_dir(base.checked(site), tmp_path / "www" / "segments")
    finally:
        os.umask(previous)
    modes = _modes(dest)
    assert modes.pop(".") == 0o755
    assert modes.pop("_assets") == 0o755
    assert set(modes.values()) == {0o644}
    assert set(modes) == {"index.html", "brief.pdf", "build-info.json", "_assets/site.css"}


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o2775])
def test_an_existing_target_keeps_its_own_mode(site, tmp_path, mode):
    dest = tmp_path / "www"
    dest.mkdir()
    dest.chmod(mode)
    publish_to_dir(base.checked(site), dest)
    assert stat.S_IMODE(dest.stat().st_mode) == mode
    publish_to_dir(base.checked(site), dest)  # and again, over its own publication
    assert stat.S_IMODE(dest.stat().st_mode) == mode
    assert stat.S_IMODE((dest / "index.html").stat().st_mode) == 0o644


# --- what the target may be ------------------------------------------------------------------------


def test_a_target_that_is_a_link_is_refused(site, tmp_path):
    real = tmp_path / "releases" / "current"
    real.mkdir(parents=True)
    link = tmp_path / "www"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(PublishError, match="the target is a symbolic link"):
        publish_to_dir(base.checked(site), link)
    assert link.is_symlink() and list(real.iterdir()) == []


def test_a_file_added_beside_a_publication_is_never_deleted(site, tmp_path):
    dest = publish_to_dir(base.checked(site), tmp_path / "www")
    (dest / ".htaccess").write_text("Require all granted\n", encoding="utf-8")
    with pytest.raises(PublishError, match=r"holds files this program did not write \(\.htaccess\)"):
        publish_to_dir(base.checked(site), dest)
    assert (dest / ".htaccess").read_text(encoding="utf-8") == "Require all granted\n"


def test_leftovers_of_a_killed_publish_are_removed_and_nothing_else(site, tmp_path):
    dest = publish_to_dir(base.checked(site), tmp_path / "www")
    ours = [tmp_path / ".www-new-a1b2c3d4", tmp_path / ".www-old-zz_99xx0"]
    for path in ours:
        path.mkdir()
        (path / "index.html").write_text("half copied", encoding="utf-8")
    legacy = tmp_path / ".www-old"  # the fixed name earlier versions used: removed when it is a publication
    publish_to_dir(base.checked(site), legacy)
    theirs = tmp_path / ".www-notes"
    theirs.mkdir()
    (theirs / "todo.txt").write_text("mine", encoding="utf-8")
    publish_to_dir(base.checked(site), dest)
    assert not [p for p in (*ours, legacy) if p.exists()]
    assert (theirs / "todo.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".www-notes", "www", *_fixture_entries(tmp_path)])


def _fixture_entries(root: Path) -> list[str]:
    return [name for name in ("_site", "build") if (root / name).exists()]


def test_a_failed_copy_leaves_the_previous_publication_and_no_staging(site, tmp_path, monkeypatch):
    dest = publish_to_dir(base.checked(site), tmp_path / "www")
    before = {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()}

    def disk_full(root, files, modes):
        (root / "index.html").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(directory_module, "write_tree", disk_full)
    with pytest.raises(PublishError, match="could not publish: No space left on device"):
        publish_to_dir(base.checked(site), dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["www", *_fixture_entries(tmp_path)])


KILLED_PUBLISH = r"""
import os, signal, sys
from pathlib import Path

import publishing.deliver._journal as journal
from publishing.deliver import check_site, publish_to_dir

site, bundle, dest = map(Path, sys.argv[1:4])
journal.exchange = lambda a, b: False  # a file system without RENAME_EXCHANGE: two renames
real, calls = journal._move, []


def move(src, dst):
    calls.append(1)
    if len(calls) == 2:  # the old publication moved away, the new one not yet in
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)


journal._move = move
publish_to_dir(check_site(site, bundle_path=bundle), dest)
"""


def test_a_publish_killed_between_renames_is_finished_by_the_next(site, tmp_path):
    dest = publish_to_dir(base.checked(site), tmp_path / "www")
    (site[0] / "about.html").write_text("<p>new page</p>", encoding="utf-8")
    base.sign(*site)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(KEY_ENV, None)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_PUBLISH, str(site[0]), str(site[1]), str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not dest.exists()  # what the kill left: only the journal knows where the new tree is
    assert (tmp_path / ".www-publish.json").is_file()
    publish_to_dir(base.checked(site), dest)
    assert (dest / "about.html").read_text(encoding="utf-8") == "<p>new page</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["www", *_fixture_entries(tmp_path)])


# --- several targets ----------------------------------------------------------------------------


def _smtp_env(monkeypatch, port: int) -> None:
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_STARTTLS": "false",
        "SMTP_FROM": "brief@example.org",
        "SMTP_TO": "ceo@example.org",
    }.items():
        monkeypatch.setenv(name, value)


class _Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        return "550 5.1.1 mailbox unavailable"


@pytest.fixture
def refusing_smtp():
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=base._free_port())
    controller.start()
    yield controller
    controller.stop()


def _publish(site, *targets: str) -> int:
    return main(["publish", "--site", str(site[0]), "--bundle", str(site[1]), *targets])


def test_dir_delivered_email_failed_is_partial(site, tmp_path, monkeypatch, capsys):
    _smtp_env(monkeypatch, base._free_port())  # nobody listens there
    code = _publish(site, "--to-dir", str(tmp_path / "www"))
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL == 3
    assert out == f"dir: copied to {tmp_path / 'www'}\n"
    lines = err.splitlines()
    assert lines[0].startswith("error: email: SMTP 127.0.0.1:") and "cannot connect" in lines[0]
    assert lines[1] == "error: partial publish: delivered to dir; not delivered to email"
    assert len(lines) == 2 and (tmp_path / "www" / "index.html").is_file()


def test_every_target_is_tried_after_one_fails(site, tmp_path, smtp_server, monkeypatch, capsys):
    controller, inbox = smtp_server
    _smtp_env(monkeypatch, controller.port)
    code = _publish(site, "--to-dir", str(tmp_path / "www"), "--to-git", str(tmp_path / "missing.git"))
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL
    assert out.splitlines() == [
        f"dir: copied to {tmp_path / 'www'}",
        "email: emailed brief.pdf to 1 recipient(s) via 127.0.0.1",
    ]
    assert "error: git: git ls-remote failed" in err and "delivered to dir, email; not delivered to git" in err
    assert len(inbox.envelopes) == 1


def test_nothing_delivered_exits_2_with_every_reason(site, tmp_path, refusing_smtp, monkeypatch, capsys):
    _smtp_env(monkeypatch, refusing_smtp.port)
    code = _publish(site, "--to-git", str(tmp_path / "missing.git"))
    out, err = capsys.readouterr()
    assert code == EXIT_NONE == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("error: git: git ls-remote failed")
    assert "does not appear to be a git repository" in lines[0]
    assert lines[1].startswith("error: email: SMTP") and "every recipient refused: ['ceo@example.org']" in lines[1]


def test_email_sends_the_checked_brief_not_what_is_on_disk_later(site, smtp_server, monkeypatch, capsys):
    controller, inbox = smtp_server
    _smtp_env(monkeypatch, controller.port)
    built = (site[0] / "brief.pdf").read_bytes()
    real_check = deliver.check_site

    def check_then_swap(*args, **kwargs):
        checked = real_check(*args, **kwargs)
        (site[0] / "brief.pdf").write_bytes(b"%PDF-1.7 swapped in after the check")
        return checked

    monkeypatch.setattr(deliver, "check_site", check_then_swap)
    assert _publish(site, "--email") == 0, capsys.readouterr().err
    (envelope,) = inbox.envelopes
    (attachment,) = list(message_from_bytes(envelope.content, policy=default_policy).iter_attachments())
    assert attachment.get_content() == built


def test_exit_statuses_are_documented_in_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["publish", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "0 every target delivered" in text
    assert f"{EXIT_PARTIAL} some delivered and some failed (partial)" in text
    assert f"{EXIT_NONE} nothing delivered" in text
