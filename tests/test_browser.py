"""The built site in a real browser (Debian Chromium through Playwright), served over local HTTP."""

from __future__ import annotations

import re

import pytest

from publishing.site import load_bundle

pytestmark = pytest.mark.browser


def _visit(page, url: str) -> dict[str, list[str]]:
    """Open ``url`` and return console errors, page errors and failed requests seen while loading."""
    seen: dict[str, list[str]] = {"console": [], "pageerror": [], "failed": [], "status": []}
    page.on("console", lambda m: seen["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["pageerror"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("response", lambda r: seen["status"].append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")
    return seen


@pytest.fixture(scope="module", params=["factory", "pipeline", "history"])
def server(request, serve):
    return serve(request.getfixturevalue(f"{request.param}_site"))


def test_every_page_loads_cleanly_with_all_images(server, context):
    for name in server.site.pages:
        page = context.new_page()
        seen = _visit(page, f"{server.url}/{name}")
        assert seen == {"console": [], "pageerror": [], "failed": [], "status": []}, name
        broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        assert broken == [], name
        assert page.evaluate("[...document.images].every(i => i.hasAttribute('alt'))")
        assert page.evaluate("document.fonts.check('16px Inter')")
        page.close()
    assert server.errors() == []


def test_every_local_link_resolves(factory_site, serve, context):
    server = serve(factory_site)
    page = context.new_page()
    targets: set[str] = set()
    for name in server.site.pages:
        page.goto(f"{server.url}/{name}")
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        targets |= {h.split("#")[0] for h in hrefs if h.startswith(server.url)}
    for target in sorted(targets):
        response = page.request.get(target)
        assert response.status == 200, target
    assert server.errors() == []
    page.close()


def test_navbar_and_cards_reach_every_segment_page(factory_site, serve, context):
    server = serve(factory_site)
    bundle = load_bundle(server.site.bundle_path)
    page = context.new_page()
    for seg in bundle.segments:
        page.goto(f"{server.url}/index.html")
        page.locator(".nav-menu summary").click()
        page.locator(".nav-menu").get_by_role("link", name=seg.name, exact=True).click()
        page.wait_for_url(f"**/segment-{seg.id}.html")
        assert page.locator("h1.title").inner_text().strip() == seg.name
        page.goto(f"{server.url}/index.html")
        page.locator(f'a.card[href="segment-{seg.id}.html"]').click()
        page.wait_for_url(f"**/segment-{seg.id}.html")
    page.close()


# Every element that holds a key number; on a phone each must lie inside the screen, not in a
# table that scrolls sideways (a figure's own SVG is drawn for the phone and checked as an image).
KEY_NUMBERS = ".kpi-value, .rank-figures dd, .card-stats dd, table.stack td, .design-stats dd"

_OFF_SCREEN = """(sel) => [...document.querySelectorAll(sel)]
  .filter(e => e.getClientRects().length)
  .filter(e => { const r = e.getBoundingClientRect(); return r.left < -0.5 || r.right > window.innerWidth + 0.5; })
  .map(e => e.textContent.trim().slice(0, 40))"""

_SCROLLERS = """() => [...document.querySelectorAll('.table-wrap')]
  .filter(w => w.scrollWidth > w.clientWidth + 1 && w.querySelector('table.stack'))
  .map(w => w.querySelector('caption')?.textContent ?? '?')"""


@pytest.mark.parametrize("width", [390, 375])
def test_phone_shows_every_key_number_without_sideways_scrolling(server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=1)
    page = context.new_page()
    for name in server.site.pages:
        page.goto(f"{server.url}/{name}", wait_until="load")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{name}: content {widths[0]}px wider than viewport {widths[1]}px"
        assert page.evaluate(_OFF_SCREEN, KEY_NUMBERS) == [], name
        assert page.evaluate(_SCROLLERS) == [], name
        # Charts show their phone drawing; at 390 px shrunk by a quarter at most, so 10 pt labels stay 10 px.
        scales = page.evaluate(
            "[...document.querySelectorAll('figure img')].map(i => [i.currentSrc, i.clientWidth / i.naturalWidth])"
        )
        floor = 0.75 if width >= 390 else 0.0
        assert [s for s in scales if s[1] < floor or "-phone" not in s[0]] == [], name
    context.close()


def test_segment_menu_works_on_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=1)
    page = context.new_page()
    # the segment menu opens inside the small screen and its links work
    page.goto(f"{server.url}/index.html")
    page.locator(".nav-menu summary").click()
    links = page.locator(".nav-menu ul a")
    assert links.count() == len(load_bundle(server.site.bundle_path).segments)
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 740
    links.last.click()
    page.wait_for_url("**/segment-*.html")
    context.close()


def test_hostile_text_fires_no_dialog_and_shows_as_text(hostile_site, serve, context):
    server = serve(hostile_site)
    dialogs: list[str] = []
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for name in hostile_site.pages:
        seen = _visit(page, f"{server.url}/{name}")
        assert seen["pageerror"] == [] and seen["console"] == [], name
        assert page.evaluate("document.querySelectorAll('script').length") == 0, name
        assert page.evaluate("[...document.images].every(i => !i.src.endsWith('/x'))"), name
    assert dialogs == []
    page.goto(f"{server.url}/segment-1.html")
    assert re.search(r"<script>alert\(1\)</script>", page.locator("h1.title").inner_text())
    page.close()


WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_passes_axe_core_at_wcag_21_aa(server, browser, width):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    found = {}
    for name in server.site.pages:
        page.goto(f"{server.url}/{name}", wait_until="load")
        results = axe.run(page, options=WCAG_AA)
        if results.violations_count:
            found[name] = results.generate_report()
    context.close()
    assert found == {}, "\n".join(f"{name}:\n{report}" for name, report in found.items())
