"""Choosing k in several processes gives the same selection as in one, whatever happens to a worker."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from analysis import _kworker
from analysis._child import ForkedChild, can_fork
from analysis._kscore import CORE, PARALLEL_LINES, scoring_workers
from analysis._kworker import Worker
from analysis.config import ClusterConfig, KSelectionConfig
from analysis.kselect import choose_k, choose_k_steps

CONFIG = KSelectionConfig(k_min=2, k_max=6, stability_resamples=3, gap_references=3, silhouette_sample=300)
CLUSTER = ClusterConfig(n_init=2)


def _planted(seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = ((0, 0, 0), (6, 0, 0), (0, 6, 0), (0, 0, 6))
    return np.vstack([rng.normal(c, 1.0, size=(150, 3)) for c in centres])


@pytest.fixture(scope="module")
def serial():
    return choose_k(_planted(), config=CONFIG.model_copy(update={"processes": 1}), cluster=CLUSTER)


def _steps_and_result(processes: int):
    calls: list[int] = []
    config = CONFIG.model_copy(update={"processes": processes})
    result = choose_k(_planted(), config=config, cluster=CLUSTER, on_step=lambda: calls.append(1))
    return len(calls), result


@pytest.mark.parametrize("processes", [2, 3])
def test_several_processes_give_the_same_selection_as_one(serial, processes):
    steps, parallel = _steps_and_result(processes)
    assert parallel == serial
    assert steps == choose_k_steps(CONFIG, cluster=CLUSTER)
    assert serial.chosen_k == 4


def test_workers_started_early_are_used_and_closed(serial):
    with scoring_workers(CONFIG.model_copy(update={"processes": 2}), lines=10) as workers:
        assert len(workers) == 1
        result = choose_k(_planted(), config=CONFIG, cluster=CLUSTER, workers=workers)
        assert workers[0].proc.poll() is not None  # closed once k is chosen
    assert result == serial


def test_a_dead_or_crashing_worker_leaves_its_k_to_the_caller(serial):
    dead = Worker()
    dead.proc.kill()
    dead.proc.wait()
    crashing = Worker()
    send = crashing.send

    def send_then_crash(k):
        send(k)
        crashing.proc.kill()

    crashing.send = send_then_crash
    assert choose_k(_planted(), config=CONFIG, cluster=CLUSTER, workers=[dead, crashing]) == serial


def test_a_worker_reports_a_failed_fit_as_an_error():
    worker = Worker()
    try:
        worker.begin(_planted(), CONFIG, CLUSTER)
        worker.send((10**6, CORE))  # more segments than rows
        with pytest.raises(OSError, match="the scoring worker failed: .*n_clusters"):
            worker.result(timeout=120)
    finally:
        worker.close()
    assert worker.proc.returncode == 0


def test_a_short_log_starts_no_worker_and_unused_workers_are_stopped_at_once():
    auto = CONFIG.model_copy(update={"processes": 0})
    with scoring_workers(auto, lines=PARALLEL_LINES - 1) as workers:
        assert workers == []
    with scoring_workers(CONFIG.model_copy(update={"processes": 3}), lines=0) as workers:
        assert len(workers) == 2
        procs = [w.proc for w in workers]
    assert [p.returncode for p in procs] == [-signal.SIGKILL] * 2  # stopped, not left to finish importing


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """The workers are a program of their own: the caller's script is not imported again in them."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            from analysis.config import ClusterConfig, KSelectionConfig
            from analysis.kselect import choose_k
            rng = np.random.default_rng(1)
            X = np.vstack([rng.normal(c, 0.5, size=(80, 2)) for c in ((0, 0), (5, 0), (0, 5))])
            config = KSelectionConfig(k_min=2, k_max=4, stability_resamples=2, gap_references=2, processes=2)
            print("chose", choose_k(X, config=config, cluster=ClusterConfig(n_init=1)).chosen_k)
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == ["chose 3"]


def test_warnings_raised_in_a_worker_are_raised_again_in_the_caller():
    """Three distinct points and k up to 6: the larger k warn that they found fewer clusters."""
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 100, axis=0)
    seen = {}
    for processes in (1, 2):
        config = CONFIG.model_copy(update={"processes": processes})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            choose_k(X, config=config, cluster=CLUSTER)
        seen[processes] = {(w.category, str(w.message)) for w in caught}
    assert seen[1] and seen[2] == seen[1]
    assert any(category is ConvergenceWarning for category, _ in seen[2])


def test_without_fork_the_workers_are_programs_of_their_own_with_the_same_answers(monkeypatch):
    if not can_fork():
        pytest.skip("children are forks on Linux only")
    forked = choose_k(_planted(), config=CONFIG.model_copy(update={"processes": 2}), cluster=CLUSTER)
    monkeypatch.setattr(_kworker, "can_fork", lambda: False)
    worker = _kworker.Worker()
    assert not isinstance(worker.proc, ForkedChild)
    spawned = choose_k(_planted(), config=CONFIG, cluster=CLUSTER, workers=[worker])
    assert spawned == forked
    assert worker.proc.returncode == 0


def test_answers_that_arrive_together_are_each_read_at_once():
    """Two pieces queued ahead, both answered before the first is read: the second is then there at
    once (a buffered read would hide it from ``select`` until the worker wrote again)."""
    worker = Worker()
    try:
        worker.begin(_planted(), CONFIG, CLUSTER)
        worker.send((2, 0))
        worker.send((2, 1))
        time.sleep(3)  # two fits of 600 rows: both answers are in the pipe by now
        first = worker.result(timeout=120)
        second = worker.result(timeout=0)
        assert first is not None and second is not None
        assert [first[0], second[0]] == [(2, 0), (2, 1)]
        assert worker.tasks == []
    finally:
        worker.close()
    assert worker.proc.returncode == 0
