"""The classifier inside the crawl (StorePipeline's batches) and behind the CLI, on a real DB."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler
from sqlalchemy import func, select

from storywatch.config import Config, SourceConfig, TopicConfig
from storywatch.normalise.dates import to_utc, utc_now
from storywatch.normalise.item import NewsItem
from storywatch.normalise.segment import word_count
from storywatch.normalise.text import content_hash
from storywatch.spiders.pipelines import StorePipeline
from storywatch.storage import open_storage
from storywatch.storage.classify import NearCopyBand
from storywatch.storage.models import Judgement
from storywatch.storage.repository import save_item
from tests.conftest import run_cli

EVAL = Path(__file__).parent / "data" / "eval"


def _records(*ids: str) -> list[dict]:
    wanted = set(ids)
    out = []
    for name in ("rewrites", "followups", "offtopic"):
        for line in (EVAL / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["id"] in wanted:
                out.append(record)
    return sorted(out, key=lambda r: to_utc(r["published_at"]))


def _news(record: dict, source: str = "wire") -> NewsItem:
    return NewsItem(
        url=record["url"], canonical_url=record["url"], title=record["title"], authors=[],
        published_at=to_utc(record["published_at"]), fetched_at=utc_now(),
        language=record["language"], text=record["text"], source=source,
        discovered_via="feed", content_hash=content_hash(record["text"]),
        word_count=word_count(record["text"]), extractor="test",
    )


def _through_pipeline(crawler: Crawler, items: list[NewsItem]) -> list[NewsItem]:
    """Items through StorePipeline as the crawl sends them: batched, then the batch closed."""
    store = StorePipeline(crawler)

    async def run() -> None:
        for item in items:
            await store.process_item(item)
        await store.close_spider()

    asyncio.run(run())
    return items


def _config(database_url: str, tmp_path: Path) -> Config:
    seeds = []
    for name in ("seed-a.txt", "seed-b.html"):
        shutil.copy(EVAL / "seeds" / name, tmp_path / name)
        seeds.append(str(tmp_path / name))
    return Config.model_validate({
        "storage": {"url": database_url},
        # The fixture story's seed event (text seeds carry no date of their own).
        "topics": [TopicConfig(name="deserters", seeds=seeds, event_date=date(2024, 10, 9)),
                   TopicConfig(name="other", seeds=[seeds[1]])],
        "sources": [SourceConfig(name="wire", url="https://wire.example/feed",
                                 topics=["deserters"])],
    })


def test_stored_items_get_judged_through_the_pipeline(database_url: str,
                                                      tmp_path: Path) -> None:
    config = _config(database_url, tmp_path)
    crawler = get_crawler(Spider, {"STORYWATCH_CONFIG": config})
    records = _records("fu-001", "fc-001", "ot-001", "rw-014")
    _through_pipeline(crawler, [_news(record) for record in records])
    storage = open_storage(database_url)
    with storage.session() as session:
        rows = {item_url: (j.topic, j.status, j.duplicate_of, j.cluster_id, j.reasons)
                for j, item_url in session.execute(
                    select(Judgement, NewsItemUrl()).join_from(Judgement, _items())
                )}
        bands = session.execute(select(func.count(func.distinct(NearCopyBand.item_id))))
        assert bands.scalar_one() == len(records)
    storage.dispose()
    by_id = {r["id"]: rows[r["url"]] for r in records}
    # The source applies to one topic only: one judgement per item.
    assert all(topic == "deserters" for topic, *_ in by_id.values())
    assert by_id["fu-001"][1] == "followup"
    assert by_id["fc-001"][1:3] == ("duplicate", _records("fu-001")[0]["url"])
    assert by_id["fc-001"][3] == by_id["fu-001"][3]  # the copy points at the cluster
    assert by_id["ot-001"][1] == "offtopic"
    assert by_id["rw-014"][1] == "duplicate" and by_id["rw-014"][2] == "seed-a"
    assert by_id["rw-014"][4]["layer"] == "near-copy"
    assert crawler.stats.get_value("storywatch/judged_followup") == 1
    # The same article met again keeps its judgement and is not judged twice.
    [again] = _through_pipeline(crawler, [_news(records[0])])
    assert again.stored_new is False  # type: ignore[attr-defined]
    assert again.judgements == {}  # type: ignore[attr-defined]
    assert crawler.stats.get_value("storywatch/judged_followup") == 1


def NewsItemUrl():
    from storywatch.storage.models import Item

    return Item.url


def _items():
    from storywatch.storage.models import Item

    return Item


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_explain_rescore_and_eval_from_the_command_line(database_url: str,
                                                        tmp_path: Path) -> None:
    _config(database_url, tmp_path)  # copies the seeds into tmp_path
    records = _records("fu-013", "fc-004", "ot-009")
    storage = open_storage(database_url)
    for record in records:  # stored unjudged, as an older crawl that crashed left them
        with storage.session() as session:
            save_item(session, _news(record))
    storage.dispose()
    path = tmp_path / "storywatch.toml"
    path.write_text(
        f'[storage]\nurl = "{database_url}"\n'
        '[[topics]]\nname = "deserters"\nseeds = ["seed-a.txt", "seed-b.html"]\n'
        'event_date = 2024-10-09\n'
        '[classify]\ntopic_bias = 0\n', encoding="utf-8")
    url = _records("fu-013")[0]["url"]
    before = run_cli("explain", url, config=path)
    assert before.code == 0 and "not judged yet" in before.stdout
    done = run_cli("rescore", "--unjudged", config=path)
    assert done.code == 0, done.stderr
    assert "judged 3 items" in done.stdout
    again = run_cli("rescore", "--unjudged", config=path)  # nothing left unjudged
    assert again.code == 0 and "judged 0 items" in again.stdout, again.stdout
    after = run_cli("explain", url, "--topic", "deserters", config=path)
    assert after.code == 0, after.stderr
    assert "FOLLOWUP" in after.stdout and "probabilities" in after.stdout
    copy = run_cli("explain", _records("fc-004")[0]["url"], config=path)
    assert "DUPLICATE of " + url in copy.stdout and "near-copy" in copy.stdout
    items = run_cli("items", "--format", "jsonl", config=path)
    statuses = {json.loads(line)["url"]: json.loads(line)["status"]
                for line in items.stdout.splitlines()}
    assert statuses[url] == "followup"
    assert run_cli("explain", "https://nowhere.example/x", config=path).code == 1

    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    report = run_cli("eval", str(labelled), "--seeds", str(tmp_path / "seed-a.txt"),
                     "--seeds", str(tmp_path / "seed-b.html"))
    assert report.code == 0, report.stderr
    assert "precision" in report.stdout and "confusion" in report.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "label": "maybe", "text": "t"}\n', encoding="utf-8")
    failed = run_cli("eval", str(bad), "--seeds", str(tmp_path / "seed-a.txt"))
    assert failed.code == 2 and "'maybe' is not one of" in failed.stderr
    assert "Traceback" not in failed.stderr
    no_seeds = run_cli("eval", str(labelled))
    assert no_seeds.code == 2 and "--seeds" in no_seeds.stderr
    assert "Traceback" not in no_seeds.stderr


def test_rescore_rejudges_stored_items_after_a_threshold_change(tmp_path: Path) -> None:
    from storywatch.classify.service import Classifier
    from storywatch.config import ClassifyConfig

    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = _config(database_url, tmp_path)
    crawler = get_crawler(Spider, {"STORYWATCH_CONFIG": config})
    records = _records("fu-005", "rw-010", "ot-002")
    _through_pipeline(crawler, [_news(record) for record in records])
    storage = open_storage(database_url)

    def statuses() -> dict[str, str]:
        from storywatch.storage.models import Item

        with storage.session() as session:
            return {url: status for url, status in session.execute(
                select(Item.url, Judgement.status).join(Judgement, Judgement.item_id == Item.id)
                .where(Judgement.topic == "deserters"))}

    before = statuses()
    assert before[_records("fu-005")[0]["url"]] == "followup"
    strict = config.model_copy(update={"classify": ClassifyConfig(topic_bias=-10)})
    assert Classifier(strict).rescore(storage, topic="deserters") == 3
    after = statuses()
    assert after[_records("fu-005")[0]["url"]] == "offtopic"
    assert after[_records("ot-002")[0]["url"]] == "offtopic"
    assert len(after) == 3  # one judgement per item, replaced in place
    storage.dispose()
