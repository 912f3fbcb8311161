"""The lookup service over real HTTP: ``python -m analysis stream --serve`` on 127.0.0.1, asked with httpx.

It answers by pseudonym, by raw customer id only when enabled (and then in
a POST body), never returns or logs a raw id, refuses writes, and sees each
batch the processor commits while it runs.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time

import httpx
import pytest

from tests._data import REPO
from tests._stream import SMALL_UNTIL, batch_run, current, sample_slice, stream, write_events


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    data = sample_slice(root / "small.parquet", until=SMALL_UNTIL)
    model = batch_run(data, root / "out").model_path
    events = write_events(data, root / "events.jsonl").read_bytes().splitlines(keepends=True)
    state = root / "state.db"
    done = stream("--model", str(model), "--state", str(state), stdin=b"".join(events[: len(events) // 2]))
    assert done.returncode == 0, done.stderr.decode()
    return root, model, state, b"".join(events[len(events) // 2 :])


class Service:
    """A ``--serve`` subprocess; its address is read from the line it prints once it listens."""

    def __init__(self, state, *extra: str) -> None:
        cmd = [sys.executable, "-m", "analysis", "stream", "--state", str(state), "--serve", "--port", "0", *extra]
        env = {k: v for k, v in os.environ.items() if k != "SEGMENTATION_KEY"}  # serving needs no key
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        found = re.search(r"on (http://127\.0\.0\.1:\d+) \(read-only\)", line)
        if found is None:
            self.stop()
            raise AssertionError(f"the service did not start: {line!r} {self.proc.stderr.read().decode()}")
        self.url = found.group(1)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def stop(self) -> str:
        """Stop the service; return what it logged."""
        if getattr(self, "client", None) is not None:
            self.client.close()
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode()


@pytest.fixture
def service(state):
    started = Service(state[2], "--allow-id-lookup")
    yield started
    started.stop()


def test_lookup_by_pseudonym_and_by_customer_id(state, service):
    table = current(state[2])
    first = table.iloc[0]
    got = service.client.get(f"/segments/{first['pseudonym']}")
    assert got.status_code == 200
    body = got.json()
    assert (body["pseudonym"], body["segment"], body["rfm_cell"]) == (
        first["pseudonym"],
        first["segment"],
        first["rfm_cell"],
    )
    assert body["segment_name"] and body["rfm_segment"] and body["as_of"]
    assert "customer_id" not in body
    by_id = service.client.post("/customers/lookup", json={"customer_id": first["customer_id"]})
    assert by_id.status_code == 200 and by_id.json() == body
    assert service.client.get("/segments/c_0000000000000000").status_code == 404
    assert service.client.post("/customers/lookup", json={"customer_id": "no such"}).status_code == 404
    assert service.client.post("/customers/lookup", json={"id": "x"}).status_code == 422
    health = service.client.get("/health").json()
    assert health["customers"] == len(table)


def test_the_service_is_read_only_and_never_logs_a_raw_id(state, service):
    customer = current(state[2]).iloc[1]["customer_id"]
    assert service.client.post("/customers/lookup", json={"customer_id": customer}).status_code == 200
    for method, path in (("POST", "/segments/x"), ("PUT", "/segments/x"), ("DELETE", "/segments/x")):
        assert service.client.request(method, path).status_code == 405
    log = service.stop()
    assert "POST /customers/lookup 200" in log
    assert customer not in log


def test_lookup_by_customer_id_is_off_unless_enabled(state):
    served = Service(state[2])
    try:
        customer = current(state[2]).iloc[0]["customer_id"]
        got = served.client.post("/customers/lookup", json={"customer_id": customer})
        assert got.status_code == 403
        assert customer not in json.dumps(got.json())
    finally:
        served.stop()


def test_the_service_sees_batches_the_processor_commits_while_it_runs(state, tmp_path):
    root, model, original, rest = state
    live = tmp_path / "live.db"
    live.write_bytes(original.read_bytes())
    served = Service(live)
    try:
        before = served.client.get("/health").json()
        done = stream("--model", str(model), "--state", str(live), "--source", "rest", stdin=rest)
        assert done.returncode == 0, done.stderr.decode()
        deadline = time.monotonic() + 10
        after = served.client.get("/health").json()
        while after["batch"] == before["batch"] and time.monotonic() < deadline:
            time.sleep(0.1)
            after = served.client.get("/health").json()
        assert after["customers"] == len(current(live)) > before["customers"]
        newest = current(live).iloc[-1]
        assert served.client.get(f"/segments/{newest['pseudonym']}").json()["segment"] == newest["segment"]
    finally:
        served.stop()
