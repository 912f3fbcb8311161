"""Publish target: a git branch (e.g. ``gh-pages``) whose content is exactly the site."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from analysis.errors import PublishError

__all__ = ["publish_to_git"]

_EMPTY_BLOB_PATH = ".nojekyll"  # GitHub Pages would otherwise hide files starting with "_"


def _git(
    *args: str,
    git_dir: Path,
    work_tree: Path | None = None,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> str:
    cmd = ["git", f"--git-dir={git_dir}"]
    if work_tree is not None:
        cmd.append(f"--work-tree={work_tree}")
    # The site's own files decide what is published, not anyone's ignore rules.
    cmd += ["-c", "core.excludesFile=/dev/null", "-c", "core.autocrlf=false", *args]
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, input=input_text)
    except FileNotFoundError:
        raise PublishError("git: command not found; install git to publish to a branch.") from None
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or exc.stdout or "").strip().splitlines() or ["(no message)"]
        raise PublishError(f"git {args[0]} failed: {lines[-1]}") from None
    return done.stdout.strip()


def publish_to_git(
    site_dir: Path,
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
    site_dir
        The checked site.
    repo
        Anything ``git push`` accepts: a URL, or the path of a (bare) repository.
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
    """
    site_dir = Path(site_dir).resolve()
    ref = f"refs/heads/{branch}"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
        "GIT_TERMINAL_PROMPT": "0",
    }
    with tempfile.TemporaryDirectory(prefix="publish-git-") as tmp:
        git_dir = Path(tmp) / "repo.git"
        _git("init", "-q", "--bare", str(git_dir), git_dir=git_dir, env=env)
        _git("check-ref-format", ref, git_dir=git_dir, env=env)
        remote_tip = _git("ls-remote", repo, ref, git_dir=git_dir, env=env).split()
        parent = None
        if remote_tip:
            _git("fetch", "-q", "--depth=1", repo, f"{ref}:{ref}", git_dir=git_dir, env=env)
            parent = remote_tip[0]
        _git("add", "-A", "--force", ".", git_dir=git_dir, work_tree=site_dir, env=env)
        if not (site_dir / _EMPTY_BLOB_PATH).exists():
            blob = _git("hash-object", "-w", "--stdin", git_dir=git_dir, env=env, input_text="")
            _git(
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},{_EMPTY_BLOB_PATH}",
                git_dir=git_dir,
                env=env,
            )
        tree = _git("write-tree", git_dir=git_dir, env=env)
        if parent is not None and _git("rev-parse", f"{parent}^{{tree}}", git_dir=git_dir, env=env) == tree:
            return None
        parents = ["-p", parent] if parent is not None else []
        commit = _git("commit-tree", tree, *parents, "-m", message, git_dir=git_dir, env=env)
        _git("push", "-q", repo, f"{commit}:{ref}", git_dir=git_dir, env=env)
    return commit
