"""Shared fixtures: Chromium for Playwright, a local HTTP server of a built site, built sites.

Sites are built once per test session: from the hand-made factory bundle, from
the same bundle with hostile text everywhere, and from a bundle produced by the
real pipeline on a small generated transaction file whose customer IDs we know.
"""

from __future__ import annotations

import csv
import datetime as dt
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
def hostile_site(tmp_path_factory) -> BuiltSite:
    """The site of a bundle whose every free text (and source file name) carries :data:`INJECTION`."""
    root = tmp_path_factory.mktemp("hostile")
    bundle = write_factory_bundle(root / "bundle", text=INJECTION, source_name="<img src=x onerror=alert(1)>*x*|y.csv")
    return _build("hostile", bundle, root / "site")


#: Customer IDs of the generated transaction file: long and distinctive, so that
#: finding one in the site cannot be a coincidence of chart coordinates.
RAW_IDS = tuple(str(9_100_000_000 + 7_919 * i) for i in range(1, 61))


def _write_transactions(path: Path) -> None:
    """Sixty customers in an Online Retail II layout: four behaviours, a year of orders."""
    start = dt.datetime(2011, 1, 3, 10, 0)
    rows = []
    invoice = 500_000
    for i, cid in enumerate(RAW_IDS):
        kind = i % 4
        orders = (12, 5, 2, 1)[kind]
        last_gap = (5, 30, 150, 280)[kind]
        price = (1.25, 2.95, 4.5, 7.95)[kind]
        qty = (48, 12, 6, 2)[kind]
        for o in range(orders):
            day = start + dt.timedelta(days=340 - last_gap - o * (300 // max(orders, 1)) // 2 + i % 3)
            invoice += 1
            for line in range(1 + (i + o) % 3):
                rows.append(
                    [
                        str(invoice),
                        f"2{line}{kind}7{i % 10}",
                        f"ITEM {kind}-{line}",
                        qty + line,
                        day.strftime("%Y-%m-%d %H:%M:%S"),
                        price + 0.1 * line,
                        cid,
                        "United Kingdom",
                    ]
                )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
        )
        writer.writerows(rows)


@pytest.fixture(scope="session")
def pipeline_bundle(tmp_path_factory) -> tuple[Path, tuple[str, ...]]:
    """A bundle made by the real pipeline (``python -m analysis run``) from a file of known customer IDs."""
    root = tmp_path_factory.mktemp("pipeline")
    data = root / "transactions.csv"
    _write_transactions(data)
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
