"""The GitHub Actions workflow users copy: it runs only what the tests exercise, and keeps secrets off command lines."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from publishing.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "refresh.yml"
NOX_RUN = re.compile(r"uv run nox -s (build|publish)(?: -- (.*))?")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def job(workflow) -> dict[str, Any]:
    (only,) = workflow["jobs"].values()
    return only


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True


def test_it_runs_on_a_schedule_and_by_hand_with_an_optional_data_file(workflow):
    triggers = _triggers(workflow)
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert all(len(entry["cron"].split()) == 5 for entry in triggers["schedule"])
    data = triggers["workflow_dispatch"]["inputs"]["data"]
    assert data["required"] is False and data["type"] == "string"


def _commands(job: dict[str, Any]) -> list[str]:
    return [" ".join(step["run"].split()) for step in job["steps"] if "run" in step]


def test_every_run_step_is_setup_or_a_tested_nox_session(job):
    commands = _commands(job)
    assert commands[0] == "bash scripts/setup.sh"
    for command in commands[1:]:
        match = NOX_RUN.fullmatch(command)
        assert match, command
        session, args = match.group(1), shlex.split(match.group(2) or "")
        # The arguments are ones the CLI accepts ($VARS stand for a value).
        _parser().parse_args([session, *(re.sub(r"^\$\w+$", "value", a) for a in args)])
    assert [NOX_RUN.fullmatch(c).group(1) for c in commands[1:]] == ["build", "publish", "publish"]
    assert commands[-1].endswith("-- --email")
    assert all("${{" not in step.get("run", "") for step in job["steps"])  # no expression pasted into a shell


def _step(job: dict[str, Any], uses: str) -> tuple[int, dict[str, Any]]:
    (found,) = [(i, s) for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith(uses)]
    return found


def test_the_history_comes_back_from_the_cache_and_is_saved_after_the_build(job):
    history = job["env"]["SEGMENTATION_HISTORY"]
    (build,) = [i for i, s in enumerate(job["steps"]) if "nox -s build" in s.get("run", "")]
    restore_at, restore = _step(job, "actions/cache/restore@")
    save_at, save = _step(job, "actions/cache/save@")
    assert restore_at < build < save_at
    assert restore["with"]["path"] == save["with"]["path"] == history
    assert restore["with"]["key"] == save["with"]["key"] and "github.run_id" in save["with"]["key"]
    prefix = restore["with"]["restore-keys"].strip()
    assert save["with"]["key"].startswith(prefix)  # the newest earlier entry is restored


def _secret_places(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _secret_places(value, (*path, str(key)))]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _secret_places(value, (*path, str(i)))]
    return [path] if isinstance(node, str) and "secrets." in node else []


def test_secrets_reach_the_steps_only_through_env(workflow, job):
    places = _secret_places(workflow)
    assert places and all("env" in path[:-1] for path in places), places
    publish = next(s for s in job["steps"] if s.get("run", "").endswith("--branch gh-pages"))
    assert "secrets.GITHUB_TOKEN" in publish["env"]["PUBLISH_GIT_REPO"]
    assert "--to-git" not in publish["run"]  # publish reads the target (and its token) from PUBLISH_GIT_REPO
    email = next(s for s in job["steps"] if s.get("run", "").endswith("--email"))
    assert {n for n in email["env"] if n.startswith("SMTP_")} >= {"SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SMTP_TO"}
    assert "steps.build.outputs.recorded" in email["if"]
    nox_steps = [s for s in job["steps"] if "nox" in s.get("run", "")]
    assert all(s["env"]["SEGMENTATION_KEY"] == "${{ secrets.SEGMENTATION_KEY }}" for s in nox_steps)
