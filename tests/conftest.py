"""Shared fixtures: Chromium for Playwright, a local HTTP server of a built site, built sites.

Sites are built once per test session: from the hand-made factory bundle, from
the same bundle with hostile text everywhere, and from a bundle produced by the
real pipeline on a small generated transaction file whose customer IDs we know.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # tests/_factory.py is imported as a plain module
    sys.path.insert(0, str(HERE))

from _factory import INJECTION, write_factory_bundle  # noqa: E402
from _tiny_log import RAW_IDS, write_transactions  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Point pytest-playwright at Debian's Chromium (Playwright's own download is unavailable here)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


# --------------------------------------------------------------------------- sites


@dataclass(frozen=True)
class BuiltSite:
    """A site built for the tests, with what it was built from."""

    name: str
    out_dir: Path
    bundle_path: Path
    pages: tuple[str, ...]
    raw_ids: tuple[str, ...] = ()

    def files(self) -> list[Path]:
        return sorted(p for p in self.out_dir.rglob("*") if p.is_file())


def _build(name: str, bundle_path: Path, out_dir: Path, raw_ids: tuple[str, ...] = ()) -> BuiltSite:
    from publishing.site import build_site

    result = build_site(bundle_path, out_dir, engine="pandoc")
    return BuiltSite(name, out_dir, bundle_path, result.pages, raw_ids)


@pytest.fixture(scope="session")
def factory_site(tmp_path_factory) -> BuiltSite:
    """The site of the hand-made four-segment bundle."""
    root = tmp_path_factory.mktemp("factory")
    return _build("factory", write_factory_bundle(root / "bundle"), root / "site")


@pytest.fixture(scope="session")
def history_site(tmp_path_factory) -> BuiltSite:
    """The site of a second refresh: the hand-made bundle with a history and a migration section."""
    from _factory import make_bundle
    from _history_factory import with_history

    from analysis.bundle import write_bundle

    root = tmp_path_factory.mktemp("history")
    bundle = write_bundle(with_history(make_bundle(experiments=False, results=False)), root / "bundle")
    return _build("history", bundle, root / "site")


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory) -> BuiltSite:
    """The site of a bundle whose every free text (and source file name) carries :data:`INJECTION`."""
    root = tmp_path_factory.mktemp("hostile")
    bundle = write_factory_bundle(root / "bundle", text=INJECTION, source_name="<img src=x onerror=alert(1)>*x*|y.csv")
    return _build("hostile", bundle, root / "site")


@pytest.fixture(scope="session")
def pipeline_bundle(tmp_path_factory) -> tuple[Path, tuple[str, ...]]:
    """A bundle made by the real pipeline (``python -m analysis run``) from a file of known customer IDs."""
    root = tmp_path_factory.mktemp("pipeline")
    data = root / "transactions.csv"
    write_transactions(data)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "run",
            str(data),
            "--out",
            str(root / "out"),
            "--k",
            "4",
            "--progress",
            "never",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
        env={"PATH": "/usr/bin:/bin", "SEGMENTATION_KEY": "test-key-not-secret"},
    )
    assert run.returncode == 0, f"the analysis pipeline failed: {run.stderr.strip()}"
    return root / "out" / "bundle.json", RAW_IDS


@pytest.fixture(scope="session")
def pipeline_site(tmp_path_factory, pipeline_bundle) -> BuiltSite:
    """The site of the real pipeline's bundle."""
    bundle, ids = pipeline_bundle
    return _build("pipeline", bundle, tmp_path_factory.mktemp("pipeline-site"), ids)


# --------------------------------------------------------------------------- HTTP server


@dataclass
class SiteServer:
    """A running static server of one site; ``log`` holds ``(path, status)`` of every request."""

    site: BuiltSite
    url: str
    log: list[tuple[str, int]] = field(default_factory=list)

    def errors(self) -> list[tuple[str, int]]:
        """Requests answered with 4xx/5xx, except Chromium's own ``/favicon.ico`` probe."""
        return [(p, s) for p, s in self.log if s >= 400 and p != "/favicon.ico"]


class _Handler(http.server.SimpleHTTPRequestHandler):
    log_sink: list[tuple[str, int]]

    def log_request(self, code="-", size="-"):  # noqa: D102 - record instead of printing
        self.log_sink.append((self.path.split("?")[0], int(code) if str(code).isdigit() else 0))

    def log_message(self, format, *args):  # noqa: A002, D102
        pass


@pytest.fixture(scope="session")
def serve() -> Iterator:
    """A factory: ``serve(site) -> SiteServer`` on 127.0.0.1 at a free port, stopped at session end."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(site: BuiltSite) -> SiteServer:
        log: list[tuple[str, int]] = []
        handler = type("Handler", (_Handler,), {"log_sink": log})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(site.out_dir)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return SiteServer(site, f"http://127.0.0.1:{httpd.server_address[1]}", log)

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
