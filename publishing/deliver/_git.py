"""Publish target: a git branch (e.g. ``gh-pages``) whose content is exactly the checked site.

The commit is made from the verified bytes of :class:`CheckedSite` written
into a private temporary tree, never from the site directory itself. For an
``http(s)://user:TOKEN@host/...`` URL the credentials are taken out of the URL
and handed to git by a credential helper that reads them from the environment,
so they are in no command line (``ps``) and no message; every message is
redacted anyway.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from analysis.errors import PublishError
from publishing.deliver._fs import PUBLIC_MODES, write_tree
from publishing.deliver._redact import redact, url_secrets
from publishing.deliver._site import CheckedSite

__all__ = ["publish_to_git", "git_failure_reason"]

_EMPTY_BLOB_PATH = ".nojekyll"  # GitHub Pages would otherwise hide files starting with "_"
# Answers git's "get" with the URL's credentials from the environment; "store"/"erase" do nothing.
_CREDENTIAL_HELPER = (
    "!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' "
    '"$SEGMENTATION_GIT_USERNAME" "$SEGMENTATION_GIT_PASSWORD"; }; f'
)


@dataclass(frozen=True)
class _Remote:
    """Where to push (``url`` carries no credentials when they could be moved out of it)."""

    url: str
    shown: str
    secrets: tuple[str, ...] = field(repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)


def _remote(repo: str) -> _Remote:
    secrets = url_secrets(repo)
    shown = redact(repo, *secrets)
    parts = urlsplit(repo) if "://" in repo else None
    if parts is None or parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return _Remote(url=repo, shown=shown, secrets=secrets)
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return _Remote(url=clean, shown=shown, secrets=secrets, username=unquote(user), password=unquote(password))


def git_failure_reason(stderr: str) -> str:
    """The useful part of git's stderr, in one line.

    The remote's own words (``remote: ...``) and the refused refs (``! [remote
    rejected] ... (reason)``) when there are any, else git's first ``fatal:``
    line, else its last line.
    """
    lines = [" ".join(line.split()) for line in stderr.replace("\r", "\n").splitlines()]
    lines = [line for line in lines if line]
    said = [line.removeprefix("remote:").strip() for line in lines if line.startswith("remote:")]
    said = [line for line in said if line]
    refused = [line.removeprefix("!").strip() for line in lines if line.startswith("! ")]
    if said or refused:
        return "; ".join(([f"the remote said: {' / '.join(said)}"] if said else []) + refused)
    fatal = next((line for line in lines if line.startswith("fatal:")), None)
    return fatal or (lines[-1] if lines else "(no message)")


def _git(*args: str, git_dir: Path, env: dict[str, str], remote: _Remote, work_tree: Path | None = None) -> str:
    cmd = ["git", f"--git-dir={git_dir}"]
    if work_tree is not None:
        cmd.append(f"--work-tree={work_tree}")
    # The site's own files decide what is published, not anyone's ignore rules.
    cmd += ["-c", "core.excludesFile=/dev/null", "-c", "core.autocrlf=false"]
    if remote.username is not None:
        # The empty value drops every configured helper: the URL's credentials only, stored nowhere.
        cmd += ["-c", "credential.helper=", "-c", f"credential.helper={_CREDENTIAL_HELPER}"]
    cmd += list(args)
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise PublishError("git: command not found; install git to publish to a branch.") from None
    except subprocess.CalledProcessError as exc:
        reason = git_failure_reason(exc.stderr or exc.stdout or "")
        raise PublishError(redact(f"git {args[0]} failed for {remote.shown}: {reason}", *remote.secrets)) from None
    return done.stdout.strip()


def _env(author: tuple[str, str], remote: _Remote) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
        "GIT_TERMINAL_PROMPT": "0",
    }
    if remote.username is not None:
        env |= {
            "SEGMENTATION_GIT_USERNAME": remote.username,
            "SEGMENTATION_GIT_PASSWORD": remote.password or "",
        }
    return env


def publish_to_git(
    site: CheckedSite,
    repo: str,
    *,
    branch: str = "gh-pages",
    message: str = "Publish site",
    author: tuple[str, str] = ("segmentation publisher", "segmentation@localhost"),
) -> str | None:
    """Commit the site as the whole content of ``branch`` of ``repo`` and push it.

    The new commit's parent is the branch's current tip, so the push is a
    fast-forward and the branch keeps its history; no force push.

    Parameters
    ----------
    site
        The checked site; exactly its manifest's files are committed.
    repo
        Anything ``git push`` accepts: a URL (credentials in it are never shown), or a repository's path.
    branch
        Target branch; created when missing.
    message
        Commit message.
    author
        ``(name, email)`` of the commit.

    Returns
    -------
    str or None
        The pushed commit's SHA, or ``None`` when the branch already holds exactly this site.

    Raises
    ------
    PublishError
        With the remote's own reason (a hook's message, git's ``fatal:`` line), credentials redacted.
    """
    remote = _remote(repo)
    ref = f"refs/heads/{branch}"
    with tempfile.TemporaryDirectory(prefix="publish-git-") as tmp:
        env = _env(author, remote)
        git_dir, tree = Path(tmp) / "repo.git", Path(tmp) / "tree"
        tree.mkdir()
        write_tree(tree, site.files, PUBLIC_MODES)
        run = {"git_dir": git_dir, "env": env, "remote": remote}
        _git("init", "-q", "--bare", str(git_dir), **run)
        _git("check-ref-format", ref, **run)
        remote_tip = _git("ls-remote", remote.url, ref, **run).split()
        parent = None
        if remote_tip:
            _git("fetch", "-q", "--depth=1", remote.url, f"{ref}:{ref}", **run)
            parent = remote_tip[0]
        _git("add", "-A", "--force", ".", work_tree=tree, **run)
        if _EMPTY_BLOB_PATH not in site.files:
            blob = _git("hash-object", "-w", "/dev/null", **run)
            _git("update-index", "--add", "--cacheinfo", f"100644,{blob},{_EMPTY_BLOB_PATH}", **run)
        tree_sha = _git("write-tree", **run)
        if parent is not None and _git("rev-parse", f"{parent}^{{tree}}", **run) == tree_sha:
            return None
        parents = ["-p", parent] if parent is not None else []
        commit = _git("commit-tree", tree_sha, *parents, "-m", message, **run)
        _git("push", "-q", remote.url, f"{commit}:{ref}", **run)
    return commit
