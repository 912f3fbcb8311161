"""Building the website from a bundle (publishing/site.py and the pandoc engine), without a browser."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest
import yaml
from _factory import make_bundle, write_factory_bundle

from analysis.errors import PublishError
from publishing import _quarto
from publishing._env import make_env
from publishing._format import formats_for
from publishing._insights import biggest_opportunity, site_context
from publishing._pages import PAGES, PageSpec, render_pages
from publishing.site import QUARTO_YML, build_site, load_bundle

TAG = re.compile(r"<\s*(script|img|iframe)\b", re.IGNORECASE)


def _html(site) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in site.out_dir.glob("*.html")}


def test_site_has_every_page_and_figure(factory_site):
    bundle = load_bundle(factory_site.bundle_path)
    ids = [s.id for s in bundle.segments]
    expected = {
        "index.html",
        "methodology.html",
        "data-quality.html",
        "rfm.html",
        "about.html",
        "glossary.html",
        "clv.html",
        "experiments.html",
    }
    expected |= {f"segment-{i}.html" for i in ids}
    assert set(factory_site.pages) == expected
    assert factory_site.pages[0] == "index.html"
    for name in expected:
        assert (factory_site.out_dir / name).is_file()
    figures = {
        "size-revenue",
        "elbow",
        "k-metrics",
        "projection",
        "rfm-grid",
        "clv-segments",
        "clv-holdout",
        "experiment-lift",
    }
    figures |= {f"segment-{i}-{kind}" for i in ids for kind in ("profile", "box")}
    assert {p.stem for p in (factory_site.out_dir / "figures").glob("*.svg")} == figures
    assert (factory_site.out_dir / "assets" / "site.css").is_file()


def test_registry_renders_a_page_only_when_its_section_exists():
    bundle = make_bundle(clv=None)
    env, context = make_env(), site_context(bundle)
    charts = {}  # neither page shows a chart
    registry = (
        PageSpec("about", "site/about.qmd.j2", requires="rfm"),
        PageSpec("data-quality", "site/data-quality.qmd.j2", requires="clv"),
    )
    pages = render_pages(bundle, env=env, context=context, charts=charts, pages=registry)
    assert [p.filename for p in pages] == ["about.qmd"]


def test_registry_refuses_two_pages_with_one_name():
    bundle = make_bundle()
    charts = {}  # the About page shows no chart
    with pytest.raises(PublishError, match="'about.qmd'"):
        render_pages(bundle, env=make_env(), context=site_context(bundle), charts=charts, pages=(PAGES[-1], PAGES[-1]))


def test_navbar_lists_every_segment_by_name_and_marks_the_current_page(factory_site):
    bundle = load_bundle(factory_site.bundle_path)
    html = _html(factory_site)
    for seg in bundle.segments:
        page = html[f"segment-{seg.id}.html"]
        assert re.search(rf'<a href="segment-{seg.id}.html" aria-current="page"', page)
        for other in bundle.segments:
            assert f'href="segment-{other.id}.html"' in html["index.html"]
            assert other.name in page


def test_overview_shows_kpis_cards_and_the_opportunity(factory_site):
    bundle = load_bundle(factory_site.bundle_path)
    index = _html(factory_site)["index.html"]
    fmt = formats_for(bundle)
    assert fmt.number(bundle.data.customers) in index
    assert fmt.money(bundle.data.revenue) in index
    for seg in bundle.segments:
        assert seg.name in index and seg.description in index
        assert seg.recommendations[0].action in index
    opp = biggest_opportunity(bundle, site_context(bundle)["segments"])
    assert opp is not None
    assert fmt.money(opp.uplift) in index
    assert fmt.percent(opp.segment.segment.share_revenue) in index


def test_opportunity_is_the_segment_whose_revenue_lags_its_headcount_most():
    bundle = make_bundle()
    opp = biggest_opportunity(bundle, site_context(bundle)["segments"])
    gaps = {s.id: s.share_customers - s.share_revenue for s in bundle.segments}
    assert opp.segment.segment.id == max(gaps, key=gaps.get)
    base = bundle.data.revenue / bundle.data.customers
    seg = opp.segment.segment
    assert opp.uplift == pytest.approx(0.1 * seg.size * (base - seg.profile["monetary"].mean))


def test_data_quality_accounts_for_every_row(factory_site):
    bundle = load_bundle(factory_site.bundle_path)
    page = _html(factory_site)["data-quality.html"]
    assert bundle.data.rows_in == bundle.data.rows_kept + sum(
        bundle.data.dropped.values()
    )  # precondition (factory data)
    # What the test is about: the page shows those totals, each under its own label.
    for label, n in (
        ("Rows in", bundle.data.rows_in),
        ("Rows kept", bundle.data.rows_kept),
        ("Rows dropped", sum(bundle.data.dropped.values())),
    ):
        kpi = rf'kpi-label">{label}</div>\s*<div class="kpi-value">{re.escape(formats_for(bundle).number(n))}</div>'
        assert re.search(kpi, page), label
    for reason, n in bundle.data.dropped.items():
        assert f"<code>{reason}</code>" in page and formats_for(bundle).number(n) in page
    # Every code is worded on the page (the bundle carries codes only).
    words = {
        "missing_customer": "no customer ID",
        "duplicate": "an exact copy of an earlier row",
        "non_product": "postage, fees, vouchers",
    }
    for reason, text in words.items():
        if reason in bundle.data.dropped:
            assert text in htmllib.unescape(page), reason
    assert bundle.data.source.sha256 in page


def test_figures_carry_ids_and_alt_text(factory_site):
    methodology = _html(factory_site)["methodology.html"]
    for fig_id in ("fig-elbow", "fig-k-metrics", "fig-projection"):
        block = re.search(rf'<figure id="{fig_id}">(.*?)</figure>', methodology, re.S)
        assert block is not None
        alt = re.search(r'alt="([^"]+)"', block.group(1))
        assert alt is not None and len(alt.group(1)) > 40


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))


def test_site_is_self_contained(factory_site):
    for path in factory_site.files():
        if path.suffix == ".css":
            for target in re.findall(r"url\(([^)]+)\)", path.read_text(encoding="utf-8")):
                target = target.strip("\"'")
                assert not re.match(r"[a-z]+:", target), f"{path.name}: non-local {target}"
                assert (path.parent / target).is_file(), f"{path.name}: broken {target}"
        if path.suffix != ".html":
            continue
        parser = _Refs()
        parser.feed(path.read_text(encoding="utf-8"))
        assert not any(tag == "script" for tag, _, _ in parser.refs)  # the site needs no JavaScript
        for tag, _attr, target in parser.refs:
            if target.startswith(("http://", "https://")):
                # only links citing sources may leave the site; no resource is fetched from the network
                assert tag == "a", f"{path.name}: <{tag}> loads {target}"
            elif not target.startswith(("#", "mailto:")):
                assert not target.startswith("/"), f"{path.name}: absolute path {target}"
                assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken {target}"


def test_hostile_text_is_inert_everywhere(hostile_site):
    for path in hostile_site.files():
        if path.suffix in (".html", ".svg"):
            text = path.read_text(encoding="utf-8")
            assert not TAG.search(text.replace('<img src="figures/', "").replace('<img src="assets/', "")), path.name
    index = _html(hostile_site)["index.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "<em>bold</em>" not in index  # Markdown in data is not interpreted
    title = re.search(r"<h1 class=\"title\">(.*?)</h1>", _html(hostile_site)["segment-1.html"], re.S).group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in title and "*bold* | pipe" in title


def test_same_bundle_gives_the_same_bytes(tmp_path, factory_site):
    again = build_site(factory_site.bundle_path, tmp_path / "again", engine="pandoc")
    first = {p.relative_to(factory_site.out_dir): p.read_bytes() for p in factory_site.files()}
    second = {p.relative_to(again.out_dir): p.read_bytes() for p in again.out_dir.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


def test_engine_choice_is_validated(tmp_path, monkeypatch):
    bundle = write_factory_bundle(tmp_path)
    with pytest.raises(PublishError, match=r"'engine' parameter must be one of \['auto', 'pandoc', 'quarto'\]"):
        build_site(bundle, tmp_path / "site", engine="latex")
    monkeypatch.setattr(_quarto.shutil, "which", lambda name: None)
    with pytest.raises(PublishError, match="needs the quarto CLI on PATH"):
        build_site(bundle, tmp_path / "site", engine="quarto")


def test_auto_engine_falls_back_to_pandoc_and_writes_only_into_out_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(_quarto.shutil, "which", lambda name: None)
    out = tmp_path / "deep" / "site"
    bundle = write_factory_bundle(tmp_path / "b", n_segments=2, clv=None, experiments=False, results=False)
    result = build_site(bundle, out)
    assert result.engine == "pandoc" and result.out_dir == out
    assert "segment-2.html" in result.pages and "segment-3.html" not in result.pages
    assert (out / "index.html").is_file()
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["site"]
    assert not any(p.suffix in (".qmd", ".yml") for p in out.rglob("*"))
    # pages of absent optional sections: no file, no navbar entry, no link anywhere
    spec = yaml.safe_load(QUARTO_YML.read_text(encoding="utf-8"))
    optional = [i["href"] for i in spec["website"]["navbar"]["left"] if i.get("href") in ("clv.qmd", "experiments.qmd")]
    assert len(optional) == 2, "the navbar is expected to list both optional pages"
    for href in optional:
        stem = href.removesuffix(".qmd")
        assert f"{stem}.html" not in result.pages
        assert all(f'href="{stem}.html"' not in p.read_text(encoding="utf-8") for p in out.glob("*.html"))


def test_unreliable_clv_shows_the_reason_and_no_model_numbers(tmp_path):
    bundle_path = write_factory_bundle(tmp_path / "b", clv="unreliable")
    result = build_site(bundle_path, tmp_path / "site", engine="pandoc")
    page = (tmp_path / "site" / "clv.html").read_text(encoding="utf-8")
    clv = load_bundle(bundle_path).clv
    assert clv.headline == "too_few_repeat_buyers"
    assert "callout-warning" in page and "too few customers have bought more than once" in page
    assert "Only 40 customers bought again in the calibration period; at least 100 are needed." in page
    assert "clv-segments.svg" not in result.figures and "fig-clv-segments" not in page
    assert "Parameter estimates" not in page


def test_no_markdown_leaks_into_the_html(factory_site):
    for name, text in _html(factory_site).items():
        assert "{=html}" not in text and "```" not in text, name
        assert not re.search(r"\{#fig-", text), name


def test_pages_show_the_optional_sections(factory_site):
    bundle = load_bundle(factory_site.bundle_path)
    html = _html(factory_site)
    fmt = formats_for(bundle)
    assert fmt.money(bundle.clv.total.clv) in html["clv.html"]
    for row in bundle.clv.segments:
        assert fmt.money(row.clv) in html["clv.html"]
    names = {s.id: s.name for s in bundle.segments}
    page = htmllib.unescape(html["experiments.html"])
    for design in bundle.experiments.designs:
        assert f"Giving {names[design.segment]} the action “{design.action}” raises" in page
        if design.verdict == "too_small":
            needs = f"Needs {fmt.number(design.required_treatment)} treatment and"
            assert needs in page and "What would make it testable" in page
    for option in bundle.experiments.control_options:
        assert fmt.number(option.held_back) in page
    for row in bundle.experiment_results.primary.segments:
        assert fmt.percent(row.lift) in html["experiments.html"]


def test_missing_or_invalid_bundle_is_a_publish_error(tmp_path):
    with pytest.raises(PublishError, match="bundle not found"):
        load_bundle(tmp_path / "nope.json")
    bad = tmp_path / "bundle.json"
    bad.write_text('{"schema_version": "1.0.0"}', encoding="utf-8")
    with pytest.raises(PublishError, match=r"not a valid bundle: field 'generator'"):
        load_bundle(bad)


def test_no_raw_customer_id_reaches_the_site(pipeline_site):
    assert pipeline_site.raw_ids
    for path in pipeline_site.files():
        data = path.read_bytes()
        leaked = [cid for cid in pipeline_site.raw_ids if cid.encode() in data]
        assert leaked == [], f"{path.name} contains raw customer IDs {leaked[:3]}"
    assert len(pipeline_site.pages) >= 7
