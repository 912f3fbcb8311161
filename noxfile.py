"""Sessions: ``nox -s test``, ``nox -s build`` (``-- --force``), ``nox -s publish -- --to-dir DIR``.

Every session installs the locked environment (``uv sync --frozen`` against the
committed ``uv.lock``) into its own virtualenv, so what runs here is what CI runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["test"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHON = PYPROJECT["project"]["requires-python"].removeprefix(">=")
SITE = ROOT / "_site"
BUNDLE = ROOT / "build" / "private" / "bundle.json"
REQUIRED = ("index.html", "brief.pdf", "build-info.json")


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the locked dependencies (and the project) into the session's virtualenv."""
    # uv's --no-dev wins over --group dev, so it is passed only when no group is asked for.
    # --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, every test's subprocess would
    # otherwise compile pandas, scikit-learn and scipy again.
    args = ["uv", "sync", "--frozen", "--compile-bytecode"]
    args += [arg for group in groups for arg in ("--group", group)] if groups else ["--no-dev"]
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}, external=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@nox.session(python=PYTHON)
def test(session: nox.Session) -> None:
    """Lint (ruff check, ruff format --check), then run the test suite on two workers (pytest args after --)."""
    _sync(session, "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session(python=PYTHON, default=False)
def spark(session: nox.Session) -> None:
    """Run the Spark-engine tests in their own venv (Java 17; installs the 'spark' extra)."""
    # Kept out of the main environment: with pyspark installed, pandera imports
    # pyspark.pandas on every import, which warns on stderr and slows start-up.
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--compile-bytecode",
        "--group",
        "dev",
        "--extra",
        "spark",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        external=True,
    )
    session.run("pytest", "-m", "spark", "-p", "no:xdist", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build _site/ and brief.pdf (-- --data PATH --config FILE --history DIR --force); skipped when up to date."""
    _sync(session)
    # The CLI decides whether anything changed (data, config, code, keys, history) and keeps the history;
    # SEGMENTATION_KEY and SEGMENTATION_HISTORY reach it through the environment nox passes on.
    session.run("python", "-m", "publishing", "build", *session.posargs)


def _repo_out_of_argv(posargs: list[str]) -> tuple[list[str], dict[str, str]]:
    """Move ``--to-git URL`` / ``--to-git=URL`` into ``PUBLISH_GIT_REPO``, so nox never echoes the URL.

    A URL may carry a token (``https://user:TOKEN@host/...``); nox prints every
    command line it runs, but not the environment it sets.
    """
    args, env, rest = [], {}, list(posargs)
    while rest:
        arg = rest.pop(0)
        if arg == "--to-git" and rest:
            env["PUBLISH_GIT_REPO"] = rest.pop(0)
        elif arg.startswith("--to-git="):
            env["PUBLISH_GIT_REPO"] = arg.removeprefix("--to-git=")
        else:
            args.append(arg)
    return args, env


@nox.session(python=PYTHON, default=False)
def publish(session: nox.Session) -> None:
    """Deliver a current _site/ to -- --to-dir DIR, --to-git REPO and/or --email (SMTP_* env)."""
    site = Path(os.environ.get("PUBLISH_SITE", SITE))
    if not site.is_dir():
        session.error(f"{site} does not exist: run `nox -s build` first")
    missing = [name for name in REQUIRED if not (site / name).is_file()]
    if missing:
        session.error(f"{site} lacks {', '.join(missing)}: run `nox -s build` again")
    if not BUNDLE.is_file():
        session.error(f"{BUNDLE} is missing, so {site} cannot be checked: run `nox -s build`")
    built_from = json.loads((site / "build-info.json").read_text(encoding="utf-8")).get("bundle_sha256")
    if built_from != _sha256(BUNDLE):
        session.error(f"{site} is stale (built from another bundle than {BUNDLE}): run `nox -s build`")
    _sync(session)
    args, env = _repo_out_of_argv(list(session.posargs))
    # The CLI checks again (signature, manifest, every file's checksum) before it copies, pushes or sends anything.
    session.run(
        "python",
        "-m",
        "publishing",
        "publish",
        "--site",
        str(site),
        "--bundle",
        str(BUNDLE),
        *args,
        env=env,
    )
