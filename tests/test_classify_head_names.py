"""`head_names`: whether an item's headline names whom the seeds' headlines name."""

from __future__ import annotations

import pytest

from storywatch.classify.embeddings import load_embedder
from storywatch.classify.features import Reference, signals, view
from storywatch.classify.model import UNKNOWN, Stage
from storywatch.classify.training import Example, signal_matrix

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
    examples = [Example("s", {"lexical": 0.1 * i, "head_names": head}, "followup", {})
                for i, head in enumerate([1.0, 0.5, UNKNOWN, 0.0, UNKNOWN])]
    x = signal_matrix(examples, ("lexical", "head_names"))
    assert x[:, 1].tolist() == [1.0, 0.5, 0.5, 0.0, 0.5]
    assert x[:, 0].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    # lexical is never unknown: its -1 would be a value like any other
    assert signal_matrix([Example("s", {"lexical": UNKNOWN}, "offtopic", {})],
                         ("lexical",))[0, 0] == UNKNOWN
