"""How the k vote reaches the pages: the methodology section and the brief's one sentence."""

from __future__ import annotations

import html
import re

import pytest
from _brief_factory import make_bundle as make_brief_bundle
from _factory import make_bundle as make_site_bundle
from _kselection import hand_made_selection

from analysis._kcriteria import tally
from analysis.bundle import Vote
from publishing._env import make_env
from publishing._pages import PAGES, render_pages
from publishing.brief import render_brief_html
from publishing.charts import elbow_chart, k_metrics_chart
from publishing.view import build_view

METHODOLOGY = tuple(p for p in PAGES if p.stem == "methodology")


def _split_vote():
    """The factory's selection with three votes for 4, one for 3 and an abstaining gap."""
    base = hand_made_selection(4)
    votes = [
        Vote(criterion="silhouette", k=4),
        Vote(criterion="calinski_harabasz", k=3),
        Vote(criterion="davies_bouldin", k=4),
        Vote(criterion="gap", k=None, abstained="gap_rule_not_met"),
        Vote(criterion="elbow", k=4),
    ]
    rule_k, decision, rows = tally(votes)
    return base.model_copy(update={"votes": votes, "tally": rows, "rule_k": rule_k, "decision": decision})


def _tie():
    base = hand_made_selection(4)
    votes = [
        Vote(criterion="silhouette", k=3),
        Vote(criterion="calinski_harabasz", k=4),
        Vote(criterion="davies_bouldin", k=3),
        Vote(criterion="gap", k=4),
        Vote(criterion="elbow", k=None, abstained="no_elbow"),
    ]
    rule_k, decision, rows = tally(votes)
    update = {"votes": votes, "tally": rows, "rule_k": rule_k, "chosen_k": rule_k, "decision": decision}
    return base.model_copy(update=update)


def _methodology_text(selection) -> str:
    bundle = make_site_bundle().model_copy(update={"k_selection": selection})
    view = build_view(bundle)
    charts = {c.key: c for c in (elbow_chart(view), k_metrics_chart(view))}
    charts["projection"] = charts["elbow"]  # any chart: this test reads section 4 only
    page = render_pages(view, env=make_env(), charts=charts, pages=METHODOLOGY)[0]
    section = page.text[page.text.index("## 4.") : page.text.index("## 5.")]
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", section).split()))
    return re.sub(r" ([:,.])", r"\1", text)  # the space a removed tag left before punctuation


def _brief_sentence(selection) -> str:
    bundle = make_brief_bundle().model_copy(update={"k_selection": selection})
    text = " ".join(re.sub(r"<[^>]+>", " ", render_brief_html(bundle)).split())
    return text[text.index("How the segments were found") + len("How the segments were found") :].split(".")[0].strip()


def test_methodology_lists_every_vote_and_says_which_k_won():
    text = _methodology_text(_split_vote())
    assert "k = 4: 3 of 5 checks voted for it." in text
    assert "Silhouette" in text and "Davies–Bouldin" in text
    assert "no vote: one more segment always helped within the range tried" in text
    assert "a sample of 3,000 of the 5,852 customers" in text


def test_methodology_explains_a_tie_and_an_override():
    tie = _methodology_text(_tie())
    assert "k = 3: 2 of 5 checks voted for it, as many as for k = 4, and the tie went to the smaller k." in tie
    fixed = _methodology_text(hand_made_selection(4, fixed_k=6))
    assert "k was fixed at 6 by the configuration or the command line." in fixed
    assert "The vote would have chosen k = 4: 5 of 5 checks voted for it." in fixed


def test_methodology_warns_when_nothing_was_admissible():
    selection = hand_made_selection(4, min_share=0.9)  # no k has a 90% smallest segment
    assert selection.fallback == "no_admissible_k"
    assert "so every k took part in the vote: treat the segments as indicative" in _methodology_text(selection)


@pytest.mark.parametrize(
    ("selection", "sentence"),
    [
        (hand_made_selection(4, k_max=8), "Four segments: all five independent checks agree on that number"),
        (_split_vote(), "Four segments: three of five independent checks agree on that number"),
        (
            hand_made_selection(4, k_max=8, fixed_k=6),
            "Six segments, a number set by hand",
        ),
    ],
    ids=["unanimous", "split", "fixed"],
)
def test_the_brief_says_how_many_groups_and_how_many_checks_agree(selection, sentence):
    assert _brief_sentence(selection) == sentence


def test_the_brief_says_what_the_checks_would_have_chosen_for_a_fixed_k():
    bundle = make_brief_bundle().model_copy(update={"k_selection": hand_made_selection(4, k_max=8, fixed_k=6)})
    text = " ".join(re.sub(r"<[^>]+>", " ", render_brief_html(bundle)).split())
    assert "Left to themselves, all five independent checks would have chosen four." in text


def test_the_brief_warns_when_no_grouping_was_stable_enough():
    selection = hand_made_selection(4, k_max=8, min_share=0.9)  # no k has a 90% smallest segment
    assert selection.fallback == "no_admissible_k" and not selection.overridden
    bundle = make_brief_bundle().model_copy(update={"k_selection": selection})
    text = " ".join(re.sub(r"<[^>]+>", " ", render_brief_html(bundle)).split())
    assert "None of the groupings tried was fully stable, so treat the segments as a first indication." in text
