"""`head_names`: whether an item's headline names whom the seeds' headlines name."""

from __future__ import annotations

import pytest

from storywatch.classify.embeddings import load_embedder
from storywatch.classify.features import Reference, signals, view
from storywatch.classify.model import UNKNOWN, Stage
from storywatch.classify.training import Example, fit

# Two seeds of our own about one court case; Avignon and Marlow are in both headlines.
SEEDS = [
    ("Court in Avignon jails Bertrand Marlow for twenty years",
     "The criminal court in Avignon on Thursday sentenced Bertrand Marlow to twenty years. "
     "Judges found Marlow guilty on every count after a trial of four months. "
     "His lawyer said he would consider an appeal."),
    ("Twenty years for Marlow as Avignon trial ends",
     "Bertrand Marlow was sentenced to twenty years in prison by the court in Avignon. "
     "The verdict closes a trial that drew crowds to the town for four months. "
     "Prosecutors had asked for the same term."),
]


@pytest.fixture(scope="module")
def reference() -> Reference:
    embedder = load_embedder()
    views = [view(text, "en", title, embedder) for title, text in SEEDS]
    return Reference.of_seeds(views, (), embedder)


def _head_names(reference: Reference, title: str, text: str, language: str = "en") -> float:
    item = view(text, language, title, load_embedder(), full=language == "en")
    return signals(item, reference).values["head_names"]


def test_the_seeds_protagonists_are_the_capitalised_names_their_headlines_share(
        reference: Reference) -> None:
    # "Court", "Twenty" and the second seed's "Bertrand" open their sentences;
    # "Thursday" is in one seed only.
    assert reference.protagonists == frozenset({"avignon", "marlow"})


def test_with_more_seeds_a_name_in_half_of_their_headlines_counts_and_one_seed_names_none(
        ) -> None:
    embedder = load_embedder()
    views = [view(text, "en", title, embedder) for title, text in SEEDS]
    third = view("Avignon verdict: Marlow's lawyers weigh appeal", "en",
                 "Lawyers for Bertrand Marlow said on Friday they would study the verdict.",
                 embedder)
    # Bertrand is now in two headlines of three; Thursday and Friday in one each.
    assert Reference.of_seeds([*views, third], (), embedder).protagonists == frozenset(
        {"avignon", "marlow", "bertrand"})
    alone = Reference.of_seeds(views[:1], (), embedder)
    assert alone.protagonists == frozenset()
    item = view("Marlow appeals", "en", "Marlow has appealed.", embedder)
    assert signals(item, alone).values["head_names"] == UNKNOWN


def test_an_item_is_scored_by_the_share_of_them_in_its_headline(reference: Reference) -> None:
    assert _head_names(reference, "Marlow appeals his Avignon sentence",
                       "Bertrand Marlow has appealed, his lawyer said on Monday.") == 1.0
    assert _head_names(reference, "Another trial opens in the south",
                       "A former surgeon went on trial on Monday. Marlow's case was "
                       "cited by the prosecution later in the day.") == 0.0
    # In any language, in any case: the headline and first sentence's words.
    assert _head_names(reference, "Marlow fait appel", "L'avocat de MARLOW a parlé lundi.",
                       "fr") == 0.5


def test_seeds_without_capitals_leave_the_signal_unknown_and_it_adds_nothing() -> None:
    embedder = load_embedder()
    seeds = [view("新加坡政府今天宣布了新的住房政策。部长表示政策将于明年实施。", "zh",
                  "新加坡宣布住房政策", embedder),
             view("新加坡今天公布住房新政策。新政策明年开始实施。", "zh",
                  "新加坡住房新政", embedder)]
    reference = Reference.of_seeds(seeds, (), embedder)
    assert reference.protagonists == frozenset()
    item = view("部长说明了新的住房政策。", "zh", "住房政策", embedder)
    assert signals(item, reference).values["head_names"] == UNKNOWN
    stage = Stage(("head_names",), (0.4,), (0.3,), (2.0,), 0.0)
    assert stage.contributions({"head_names": UNKNOWN}) == {"head_names": 0.0}
    assert stage.contributions({"head_names": 1.0})["head_names"] == pytest.approx(4.0)


def test_training_counts_an_unknown_value_at_the_known_ones_mean() -> None:
    def example(head: float, label: str, i: int) -> Example:
        values = {"lexical": 0.1 * (i % 5), "doc_rel": 0.5, "story_sim": 0.5,
                  "lead_rel": 0.5, "cover_rel": 0.5, "title_rel": 0.5,
                  "seed_lead_recall": 0.5, "cross_lingual": 0.0, "x_doc_sim": 0.0,
                  "head_names": head, "date_known": 0.0, "days_after": 0.0,
                  "days_before": 0.0}
        return Example("s", values, label, {})

    known = [*(example(1.0, "followup", i) for i in range(10)),
             *(example(1.0, "duplicate", i) for i in range(10)),
             *(example(0.0, "offtopic", i) for i in range(10))]
    model = fit([*known, *(example(UNKNOWN, "offtopic", i) for i in range(4))])
    at = model.topic.features.index("head_names")
    assert model.topic.mean[at] == pytest.approx(2 / 3)  # the unknown rows at 2/3 each
    assert model.topic.coef[at] > 0
