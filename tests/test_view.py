"""The typed view of the bundle that the site, the brief and the charts all read (publishing/view)."""

from __future__ import annotations

import tomllib

import pytest
from _factory import make_bundle
from _history_factory import with_history

from publishing.view import build_view


@pytest.fixture(scope="module")
def bundle():
    return make_bundle()


def test_the_ranking_is_the_bundles_with_names_and_shares(bundle):
    view = build_view(bundle)
    assert [r.segment.id for r in view.value.ranking] == bundle.impact.ranking
    assert [r.rank for r in view.value.ranking] == list(range(1, len(bundle.segments) + 1))
    assert sum(r.share_of_movable for r in view.value.ranking) == pytest.approx(1.0)
    names = {s.id: s.name for s in bundle.segments}
    assert all(r.segment.name == names[r.segment.id] for r in view.value.ranking)
    assert view.value.top is view.value.ranking[0]


def test_picks_go_round_the_ranking_before_taking_second_actions(bundle):
    picks = build_view(bundle).value.picks(len(bundle.segments) + 1)
    first_round = [p.row.segment.id for p in picks[: len(bundle.segments)]]
    assert first_round == bundle.impact.ranking
    top = picks[0].row
    assert picks[-1].row.segment.id == top.segment.id and picks[-1].action == top.recommendations[1]


def test_a_first_refresh_has_no_changes_and_no_segment_history(bundle):
    view = build_view(bundle)
    assert view.changes is None and not view.has_changes_page
    assert all(s.history is None for s in view.segments)
    assert build_view(bundle, archive=[("2011-09-10", "archive/2011-09-10/brief.pdf")]).has_changes_page


def test_the_migration_matrix_holds_every_transition_once():
    bundle = with_history(make_bundle())
    changes = build_view(bundle).changes
    mig = bundle.migration
    assert sum(sum(row) for row in changes.counts) == sum(t.customers for t in mig.transitions)
    assert changes.rows[-1].kind == "new" and changes.columns[-1].kind == "gone"
    moves = changes.moves
    assert all(m.source.id != m.target.id for m in moves)
    assert [m.customers for m in moves] == sorted((m.customers for m in moves), reverse=True)
    assert sum(m.customers for m in moves) == mig.moved


def test_each_segment_sees_where_its_customers_came_from_and_went():
    bundle = with_history(make_bundle())
    view = build_view(bundle)
    for seg in view.segments:
        history = seg.history
        arrived = sum(t.customers for t in bundle.migration.transitions if t.to == seg.id)
        assert sum(f.customers for f in history.came_from) == arrived
        assert history.trend.customers[-1] == seg.segment.size
        assert history.trend.change == seg.segment.size - history.trend.customers[0]


def test_the_configuration_reads_back_as_toml_and_the_about_page_lists_packages_only(bundle):
    view = build_view(bundle)
    for section in view.method.config:
        parsed = tomllib.loads(section.toml)
        expected = {k: v for k, v in bundle.config[section.name].items() if v is not None}
        assert parsed == {section.name: expected}
        assert set(section.unset) == {k for k, v in bundle.config[section.name].items() if v is None}
    packages = dict(view.about.packages)
    assert "segmentation" not in packages and "python" not in packages and "name" not in packages
    assert view.about.program == bundle.generator["segmentation"]
