"""The learned decision, human labels (corrections) and state shared across processes.

Real SQLite (and PostgreSQL where the fixture gives it), the packaged weights and the
packaged multilingual model; texts are the self-written corpus of tests/data/eval/.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storywatch.classify.evaluate import _news_item
from storywatch.classify.features import NAMES, NOVELTY_SIGNALS, TOPIC_SIGNALS
from storywatch.classify.model import DecisionModel
from storywatch.classify.seeds import SeedError
from storywatch.classify.service import Classifier
from storywatch.config import Config, StorageConfig, TopicConfig
from storywatch.normalise.dates import utc_now
from storywatch.storage import open_storage
from storywatch.storage.labels import save_label
from storywatch.storage.models import Item, Judgement, Label
from storywatch.storage.repository import iter_items, save_item

EVAL = Path(__file__).parent / "data" / "eval"
SEEDS = [str(EVAL / "seeds" / "seed-a.txt"), str(EVAL / "seeds" / "seed-b.html")]


def _records(*ids: str) -> list[dict[str, Any]]:
    wanted = set(ids)
    found = {}
    for path in sorted(EVAL.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["id"] in wanted:
                found[record["id"]] = record
    return [found[i] for i in ids]


# The seed event of the fixture story (its seeds are text files, which carry no date).
EVENT = date(2024, 10, 9)


def _config(url: str, event: date | None = EVENT) -> Config:
    return Config(storage=StorageConfig(url=url),
                  topics=[TopicConfig(name="deserters", seeds=SEEDS, event_date=event)])


def _store(storage: Any, records: list[dict[str, Any]]) -> dict[str, int]:
    ids = {}
    with storage.session() as session:
        for record in records:
            ids[record["id"]] = save_item(session, _news_item(record)).id
    return ids


def _judge(classifier: Classifier, storage: Any, item_id: int) -> Any:
    return classifier.classify_stored(storage, item_id)["deserters"]


def test_packaged_weights_cover_the_signals_and_explain_each_decision() -> None:
    model = DecisionModel.load()
    assert set(model.topic.features) == set(TOPIC_SIGNALS) <= set(NAMES)
    assert set(model.novelty.features) == set(NOVELTY_SIGNALS) <= set(NAMES)
    assert model.meta["trained_on"], "the weights say which stories trained them"
    values = dict.fromkeys(NAMES, 0.5)
    verdict = model.verdict(values)
    assert math.isclose(sum(verdict.probabilities.values()), 1.0)
    assert verdict.confidence == verdict.probabilities[verdict.status]
    # The explanation adds up to the decision: intercept + contributions = log-odds.
    logit = model.topic.intercept + sum(verdict.contributions["topic"].values())
    assert math.isclose(1 / (1 + math.exp(-logit)), verdict.p_topic, rel_tol=1e-9)


@pytest.mark.parametrize(("p_on", "p_new", "status"), [
    (0.55, 0.70, "followup"),   # the most probable product would be off-topic (0.45)
    (0.55, 0.30, "duplicate"),  # ... here too (0.45 against 0.385)
    (0.45, 0.99, "offtopic"),
    (0.95, 0.50, "followup"),
    (0.95, 0.49, "duplicate"),
])
def test_the_status_answers_on_topic_then_new_each_at_even_odds(
        p_on: float, p_new: float, status: str) -> None:
    """Each stage is trained on balanced classes, so each question is decided at 0.5: an
    on-topic item is not sent off-topic because its novelty is uncertain."""
    from storywatch.classify.model import Stage

    def stage(p: float) -> Stage:
        return Stage(("x",), (0.0,), (1.0,), (0.0,), math.log(p / (1 - p)))

    verdict = DecisionModel(stage(p_on), stage(p_new), {}).verdict({"x": 0.0})
    assert math.isclose(verdict.p_topic, p_on) and math.isclose(verdict.p_new, p_new)
    assert verdict.status == status
    assert verdict.confidence == verdict.probabilities[status]


def test_a_stricter_topic_bias_turns_a_followup_offtopic(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    ids = _store(storage, _records("fu-013"))
    config = _config(storage.url)
    assert _judge(Classifier(config), storage, ids["fu-013"]).status == "followup"
    strict = config.model_copy(update={"classify": config.classify.model_copy(
        update={"topic_bias": -10.0})})
    decision = Classifier(strict).classify_stored(storage, ids["fu-013"])["deserters"]
    assert decision.status == "offtopic" and decision.reasons["bias"]["topic"] == -10.0
    storage.dispose()


def _paraphrase(text: str, every: int = 3, filler: str = "indeed") -> str:
    """The same words with a filler after every third (up to fourth) one: no 5-word
    shingle survives (not a near copy), the meaning does (the embeddings stay close; a
    filler every fourth word keeps it as close to the original as the seeds are)."""
    words = text.split()
    return " ".join(w + (f" {filler}" if i % every == every - 1 else "")
                    for i, w in enumerate(words))


def _stored_with_retelling(storage: Any) -> tuple[dict[str, Any], dict[str, int], Config]:
    """A follow-up of the fixture story and a retelling of it (fu-013-retold), stored."""
    original = _records("fu-013")[0]
    retold = {**original, "id": "fu-013-retold", "url": original["url"] + "-retold",
              "text": _paraphrase(original["text"])}
    return original, _store(storage, [original, retold]), _config(storage.url)


def test_a_label_is_kept_apart_shown_and_teaches_the_topic(database_url: str) -> None:
    storage = open_storage(database_url)
    original, ids, config = _stored_with_retelling(storage)
    first = _judge(Classifier(config), storage, ids["fu-013"])
    assert first.status == "followup" and first.layer == "model"
    # A person disagrees: for this desk, that development is off the story.
    with storage.session() as session:
        save_label(session, item_id=ids["fu-013"], topic="deserters", status="offtopic",
                   labelled_at=utc_now(), note="not our angle")
    classifier = Classifier(config)  # a new run: what it knows comes from storage
    second = _judge(classifier, storage, ids["fu-013-retold"])
    assert second.status == "offtopic" and second.layer == "labelled"
    like = second.reasons["like_labelled"]
    assert like["url"] == original["url"] and like["cosine"] >= like["threshold"]
    assert like["machine_would_say"] == "followup"
    # Rescore rewrites the machine's judgements, never the person's label.
    assert classifier.rescore(storage, topic="deserters") == 2
    with storage.session() as session:
        labels = session.execute(select(Label.item_id, Label.status)).all()
        assert [(r.item_id, r.status) for r in labels] == [(ids["fu-013"], "offtopic")]
        rows = {r.item_id: r.as_json() for r in iter_items(session, topic="deserters")}
        judged = {r.item_id: r.status for r in session.execute(select(Judgement)).scalars()}
    # What a reader sees is the label; the machine's own judgement stays visible.
    assert rows[ids["fu-013"]]["status"] == "offtopic"
    assert rows[ids["fu-013"]]["judged"] == judged[ids["fu-013"]] == "followup"
    assert rows[ids["fu-013"]]["label"] == "offtopic"
    storage.dispose()


def test_a_labelled_duplicate_widens_the_seeds_without_lending_its_label(
        tmp_path: Path) -> None:
    """A person says an item is the seed story again: a retelling of it then reads closer
    to the seeds as a whole text (doc_rel), and the model decides it. The label is not
    lent outright, and the seeds' sentences stay the seeds' own: lending it and adding
    the item's every sentence made reports of other events look like the story
    (docs/classification.md, corrections)."""
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    _, ids, config = _stored_with_retelling(storage)
    before = _judge(Classifier(config), storage, ids["fu-013-retold"])
    with storage.session() as session:
        save_label(session, item_id=ids["fu-013"], topic="deserters", status="duplicate",
                   labelled_at=utc_now())
    after = _judge(Classifier(config), storage, ids["fu-013-retold"])
    assert after.layer == "model" and "like_labelled" not in after.reasons
    assert after.reasons["signals"]["doc_rel"] > before.reasons["signals"]["doc_rel"]
    for name in ("lead_rel", "cover_rel", "title_rel"):
        assert after.reasons["signals"][name] == before.reasons["signals"][name], name
    storage.dispose()


def test_a_followup_label_is_lent_to_later_reports_of_the_development_only(
        tmp_path: Path) -> None:
    """A person labels a development the machine missed a follow-up: a retelling of it
    published the day after takes the label; the same retelling dated ten days before it
    (the seed event's reports, which resemble an early development, come out before it)
    is left to the model, which the label teaches too (the development is accepted)."""
    original = _records("fu-004")[0]
    published = datetime.fromisoformat(original["published_at"])

    def judged_retelling(days: int) -> Any:
        storage = open_storage(f"sqlite:///{tmp_path / f'sw{days}.db'}")
        retold = {**original, "id": "fu-004-retold", "url": original["url"] + "-retold",
                  "text": _paraphrase(original["text"], every=4),
                  "published_at": (published + timedelta(days=days)).isoformat()}
        ids = _store(storage, [original, retold])
        config = _config(storage.url)
        machine = _judge(Classifier(config), storage, ids["fu-004"])
        assert machine.status != "followup" and machine.layer == "model"
        with storage.session() as session:
            save_label(session, item_id=ids["fu-004"], topic="deserters", status="followup",
                       labelled_at=utc_now())
        decision = _judge(Classifier(config), storage, ids["fu-004-retold"])
        storage.dispose()
        return decision

    after = judged_retelling(1)
    assert after.status == "followup" and after.layer == "labelled"
    assert after.reasons["like_labelled"]["url"] == original["url"]
    before = judged_retelling(-10)
    assert before.layer == "model" and "like_labelled" not in before.reasons


def test_a_report_closer_to_an_accepted_followup_than_to_a_label_keeps_its_verdict(
        tmp_path: Path) -> None:
    """A labelled item lends its label only to items it is closer to than anything the
    topic already holds: the seeds, and the follow-ups it accepted. Two retellings of a
    development, one accepted as a follow-up, stay together, even though the original
    report, labelled off the story, is as close to the second as the seeds are to each
    other (without dates, such labels pulled whole developments along)."""
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    original = _records("fu-013")[0]
    accepted = {**original, "id": "fu-013-accepted", "url": original["url"] + "-accepted",
                "text": _paraphrase(original["text"], filler="truly")}
    retold = {**original, "id": "fu-013-retold", "url": original["url"] + "-retold",
              "text": _paraphrase(original["text"])}
    ids = _store(storage, [original, accepted, retold])
    config = _config(storage.url)
    assert _judge(Classifier(config), storage, ids["fu-013-accepted"]).status == "followup"
    with storage.session() as session:
        save_label(session, item_id=ids["fu-013"], topic="deserters", status="offtopic",
                   labelled_at=utc_now())
    decision = _judge(Classifier(config), storage, ids["fu-013-retold"])
    assert "like_labelled" not in decision.reasons
    assert decision.status == "followup" and decision.layer == "model"
    storage.dispose()


def test_uncertain_lists_unlabelled_items_least_confident_first(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    records = _records("fu-005", "rw-010", "ot-002", "fu-020", "ot-009")
    ids = _store(storage, records)
    classifier = Classifier(_config(storage.url))
    for item_id in ids.values():
        _judge(classifier, storage, item_id)
    with storage.session() as session:
        save_label(session, item_id=ids["ot-002"], topic="deserters", status="offtopic",
                   labelled_at=utc_now())
        uncertain = [r.as_json() for r in iter_items(session, topic="deserters",
                                                     uncertain=True)]
    confidences = [r["confidence"] for r in uncertain]
    assert confidences == sorted(confidences) and len(confidences) == 4
    assert all(r["label"] is None for r in uncertain)
    assert all(0 < c <= 1 for c in confidences)
    storage.dispose()


def test_two_classifier_processes_put_one_development_in_one_cluster(database_url: str) -> None:
    """Each crawl process has its own classifier; the one that started first must still
    see the follow-up the other stored, and join its cluster."""
    storage = open_storage(database_url)
    ids = _store(storage, _records("fu-024", "fu-025"))
    config = _config(storage.url)
    early, late = Classifier(config), Classifier(config)
    with storage.session() as session:  # the second process is up and has read its state
        item = session.get(Item, ids["fu-025"])
        assert item is not None
        late.topic_classifier(session, config.topics[0]).refresh(session)
    first = _judge(early, storage, ids["fu-024"])
    second = _judge(late, storage, ids["fu-025"])
    assert first.status == second.status == "followup"
    assert second.cluster_id == first.cluster_id
    assert second.reasons["cluster"]["with"] == _records("fu-024")[0]["url"]
    storage.dispose()


def test_without_dates_the_event_date_is_estimated_from_reports_of_it(tmp_path: Path) -> None:
    from storywatch.classify.seeds import load_seed

    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    rewrites = _records("rw-001", "rw-002", "rw-003", "rw-004")
    ids = _store(storage, [*rewrites, *_records("fu-013")])
    # Both seeds as text files: the HTML seed carries its publication date.
    undated = []
    for ref in SEEDS:
        seed = load_seed(ref)
        path = tmp_path / f"{seed.name}.txt"
        path.write_text(f"{seed.title}\n\n{seed.text}\n", encoding="utf-8")
        undated.append(str(path))
    config = _config(storage.url, event=None)
    config.topics[0].seeds = undated
    classifier = Classifier(config)
    decisions = [_judge(classifier, storage, ids[r["id"]]) for r in rewrites]
    assert [d.status for d in decisions] == ["duplicate"] * 4
    assert decisions[0].reasons.get("event_date") is None
    later = _judge(classifier, storage, ids["fu-013"])
    assert later.reasons["event_date_from"].startswith("the median date of")
    dates = sorted(r["published_at"][:10] for r in rewrites[:4])
    assert later.reasons["event_date"][:10] in dates
    storage.dispose()


def test_label_uncertain_and_explain_from_the_command_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    database = tmp_path / "sw.db"
    storage = open_storage(f"sqlite:///{database}")
    ids = _store(storage, _records("fu-013", "ot-002", "rw-010"))
    classifier = Classifier(_config(storage.url))
    for item_id in ids.values():
        _judge(classifier, storage, item_id)
    storage.dispose()
    config = tmp_path / "storywatch.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{database}"\n[[topics]]\nname = "deserters"\n'
        f'seeds = {json.dumps(SEEDS)}\nevent_date = 2024-10-09\n', encoding="utf-8")
    uncertain = run_cli("items", "--uncertain", "--format", "jsonl", config=config)
    assert uncertain.code == 0, uncertain.stderr
    rows = [json.loads(line) for line in uncertain.stdout.splitlines()]
    assert len(rows) == 3 and rows[0]["confidence"] <= rows[-1]["confidence"]
    url = _records("ot-002")[0]["url"]
    done = run_cli("label", url, "followup", "--note", "a desk's call", config=config)
    assert done.code == 0, done.stderr
    assert "labelled" in done.stdout
    shown = run_cli("explain", url, config=config)
    assert "labelled by a person: FOLLOWUP (overrides the machine)" in shown.stdout
    listed = {json.loads(line)["canonical_url"]: json.loads(line) for line in run_cli(
        "items", "--status", "followup", "--format", "jsonl", config=config).stdout.splitlines()}
    assert listed[url]["label"] == "followup" and listed[url]["judged"] == "offtopic"
    left = run_cli("items", "--uncertain", "--format", "jsonl", config=config)
    assert url not in left.stdout  # labelled: no longer waiting for a person
    bad = run_cli("label", url, "maybe", config=config)
    assert bad.code == 2 and "use one of followup, duplicate, offtopic" in bad.stderr
    missing = run_cli("label", "https://nowhere.example/x", "offtopic", config=config)
    assert missing.code == 1 and "no stored item" in missing.stderr


def test_the_gate_stops_unrelated_news_and_embeds_only_what_words_cannot_judge(
        tmp_path: Path) -> None:
    """In the seeds' language the words decide alone; in another language the opening is
    embedded too, since shared words there rest on cognates and names."""
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    base = {"label": "offtopic", "kind": "offtopic", "source": "Gazette",
            "published_at": "2024-10-20T09:00:00+00:00"}
    records = [
        {**base, "id": "libraries", "language": "en", "url": "https://gazette.example/libraries",
         "title": "Council approves longer opening hours for public libraries",
         "text": "The city council voted on Tuesday to keep its public libraries open until "
                 "nine in the evening from January, after a consultation in which readers "
                 "asked for quieter study space. The budget for books and swimming pools "
                 "rises by four per cent, the treasurer told councillors."},
        {**base, "id": "bibliotecas", "language": "es", "url": "https://gaceta.example/bibliotecas",
         "title": "El ayuntamiento amplía el horario de las bibliotecas municipales",
         "text": "El pleno municipal aprobó el martes mantener abiertas las bibliotecas "
                 "públicas hasta las nueve de la noche a partir de enero, tras una consulta "
                 "en la que los lectores pidieron más salas de estudio silenciosas."},
    ]
    ids = _store(storage, records)
    classifier = Classifier(_config(storage.url))
    same = _judge(classifier, storage, ids["libraries"])
    other = _judge(classifier, storage, ids["bibliotecas"])
    assert (same.status, same.layer) == ("offtopic", "gate")
    assert same.reasons["relevance"]["mode"] == "same-language"
    assert "opening_similarity" not in same.reasons
    assert (other.status, other.layer) == ("offtopic", "gate")
    assert other.reasons["opening_similarity"] < other.reasons["thresholds"]["opening_similarity"]
    storage.dispose()


_JUDGE_PROBE = """
import json, sys
from storywatch.classify.service import Classifier
from storywatch.config import Config, StorageConfig, TopicConfig
from storywatch.storage import open_storage

if __name__ == "__main__":
    url, seeds = sys.argv[1], json.loads(sys.argv[2])
    storage = open_storage(url)
    config = Config(storage=StorageConfig(url=url),
                    topics=[TopicConfig(name="t", seeds=seeds)])
    with storage.session() as session:
        built = Classifier(config).topic_classifier(session, config.topics[0])
    print(json.dumps({"seeds": [[s.name, s.language, len(s.text)] for s in built.seeds],
                      "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _probe(tmp_path: Path, script: str, *, from_stdin: bool = False) -> dict[str, Any]:
    """Run a judging probe in a new interpreter (from a file, or from standard input);
    its report, once its seeds are checked."""
    command = [sys.executable, "-"]
    if not from_stdin:
        probe = tmp_path / "probe.py"
        probe.write_text(script, encoding="utf-8")
        command = [sys.executable, str(probe)]
    done = subprocess.run([*command, f"sqlite:///{tmp_path / 'sw.db'}", json.dumps(SEEDS)],
                          input=script if from_stdin else None, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert [name for name, _, _ in report["seeds"]] == ["seed-a", "seed-b"]
    return report


def test_the_judging_process_reads_seed_files_without_holding_the_readers(
        tmp_path: Path) -> None:
    """A seed page needs the extractor and the language detector (~120 MB); the process
    that judges a crawl's items reads its seeds through a child and never loads them."""
    report = _probe(tmp_path, _JUDGE_PROBE)
    assert all(language == "en" and length > 500 for _, language, length in report["seeds"])
    assert not {"py3langid", "trafilatura"} & set(report["loaded"])


def test_a_writer_with_the_readers_imported_but_not_loaded_reads_seeds_through_a_child(
        tmp_path: Path) -> None:
    """A crawl's writer is forked from the crawl, which imports the extractor and the
    language detector but never loads the detector's model (75 MB) nor runs a date
    search (dateparser's patterns, 43 MB): reading its seed pages itself would load both
    into it for the whole crawl. It reads them through a child too."""
    report = _probe(tmp_path, _JUDGE_PROBE.replace(
        "import json, sys\n", "import json, sys\nimport py3langid, trafilatura\n").replace(
        '"loaded": sorted(',
        '"model": sys.modules["py3langid.langid"].IDENTIFIER is not None, "loaded": sorted('))
    assert {"py3langid", "trafilatura"} <= set(report["loaded"])
    assert report["model"] is False and "dateparser" not in report["loaded"]


def test_seed_files_are_read_even_when_the_script_comes_from_standard_input(
        tmp_path: Path) -> None:
    """A spawned child re-imports the main script, which `python -` does not have: the
    seeds are then read in the process itself rather than not at all."""
    _probe(tmp_path, _JUDGE_PROBE.replace('if __name__ == "__main__":', "if True:"),
           from_stdin=True)


def test_every_topics_seed_files_are_read_once_and_a_bad_one_stops_only_its_topic(
        tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    missing = str(tmp_path / "gone.txt")
    config = Config(storage=StorageConfig(url=storage.url), topics=[
        TopicConfig(name="deserters", seeds=SEEDS, event_date=EVENT),
        TopicConfig(name="broken", seeds=[SEEDS[0], missing])])
    classifier = Classifier(config)
    with storage.session() as session:
        good = classifier.topic_classifier(session, config.topics[0])
        assert [s.name for s in good.seeds] == ["seed-a", "seed-b"]
        assert classifier._seed_files is not None and set(classifier._seed_files) == {
            *SEEDS, missing}  # both topics' files, read together
        with pytest.raises(SeedError, match=r"gone\.txt"):
            classifier.topic_classifier(session, config.topics[1])
    storage.dispose()


@pytest.mark.parametrize("dated", [True, False], ids=["event-date", "date-estimated"])
def test_a_batch_judged_together_is_judged_as_one_by_one(tmp_path: Path, dated: bool) -> None:
    """Classifier.prepare embeds a batch's openings and views in one forward pass (as the
    crawl's writer uses it), and the topic's state is read once a batch; the decisions
    must be those of judging each item alone, in the same order, copies of an earlier
    item of the same batch or of an earlier one included. Undated (one undated seed), the
    event's date is estimated from the reports of it judged so far, the batch's own
    earlier items included."""
    records = [json.loads(line) for name in ("rewrites", "followups", "offtopic")
               for line in (EVAL / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    records = records[::3]
    copy = dict(records[1], id="copy", url="https://wire.example/copy-of-an-earlier-item",
                text=records[1]["text"] + "\nReporting by our correspondent.")
    records.insert(7, copy)
    # and one of an item stored by an earlier batch (the batches are 20 items)
    records.insert(25, dict(copy, id="stored-copy", url="https://wire.example/another-copy",
                            text=copy["text"] + "\nAll rights reserved."))

    def judged(folder: str, batch: int) -> tuple[dict[str, Any], set[str]]:
        (tmp_path / folder).mkdir()
        storage = open_storage(f"sqlite:///{tmp_path / folder / 'sw.db'}")
        config = _config(storage.url) if dated else Config(
            storage=StorageConfig(url=storage.url),
            topics=[TopicConfig(name="deserters", seeds=SEEDS[:1])])
        classifier = Classifier(config)
        topics = list(classifier.config.topics)
        out, foreseen = {}, set()
        for first in range(0, len(records), batch):
            chunk = records[first:first + batch]
            with storage.session() as session:
                items = [session.get(Item, save_item(session, _news_item(r)).id) for r in chunk]
                prepared = classifier.prepare(session, [(item, topics) for item in items])
                for record, item in zip(chunk, items, strict=True):
                    features = prepared[item.id]
                    ready = bool(features.views)
                    decision = classifier.classify(session, item, topics,
                                                   features=features)["deserters"]
                    out[record["id"]] = (decision.status, decision.layer,
                                         decision.reasons.get("signals"),
                                         decision.reasons.get("event_date"))
                    if ready:
                        foreseen.add(record["id"])
        storage.dispose()
        return out, foreseen

    alone, _ = judged("alone", 1)
    together, foreseen = judged("together", 20)
    assert alone["copy"][:2] == ("duplicate", "near-copy")
    assert [v[:2] for v in together.values()] == [v[:2] for v in alone.values()]
    for key, (_, _, signals, event_date) in alone.items():
        if signals:
            assert together[key][2] == pytest.approx(signals, abs=1e-3), key
        assert together[key][3] == event_date, key
    if not dated:  # estimated part-way through a batch of 20, not known from the start
        dates = [v[3] for v in together.values() if v[1] == "model"]
        assert dates[0] is None and dates[-1] is not None
    by_model = {k for k, v in together.items() if v[1] in ("model", "labelled")}
    # Every item the model judged had its embedding made with its batch, beforehand; the
    # copy of an earlier item of the batch, which takes that item's verdict, had none.
    assert by_model and by_model <= foreseen
    assert not {"copy", "stored-copy"} & foreseen and records[1]["id"] in foreseen
    assert alone["stored-copy"][:2] == ("duplicate", "near-copy")
