"""`storywatch explain`, `eval` and `rescore`: why an item was judged so, how well the
classifier does on labelled items, and re-judging after a topic or threshold change."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from storywatch.cli.common import console, fail, options


def _out(text: str) -> None:
    """Plain lines, never wrapped: URLs and reasons must stay greppable."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def explain(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The article URL (any known form of it).")],
    topic: Annotated[str | None, typer.Option(help="Only this topic's judgement.")] = None,
) -> None:
    """Print the stored judgement of an item and the reasons behind it.

    Example: storywatch explain https://example.org/news/deserters --topic deserters
    """
    from sqlalchemy import select

    from storywatch.normalise.urls import canonical_url
    from storywatch.storage.models import Judgement
    from storywatch.storage.repository import item_by_url

    opts = options(ctx)
    config = opts.config()
    if topic is not None:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        with storage.session() as session:
            item = item_by_url(session, url) or item_by_url(session, canonical_url(url))
            if item is None:
                fail(f"no stored item has the URL {url}", code=1)
            query = select(Judgement).where(Judgement.item_id == item.id)
            if topic is not None:
                query = query.where(Judgement.topic == topic)
            judgements = list(session.execute(query.order_by(Judgement.topic)).scalars())
            _out(f"{item.title or '(no title)'}")
            _out(f"{item.canonical_url}  [{item.source}, {item.language}]")
            if not judgements:
                _out("not judged yet (run: storywatch rescore)")
            for judgement in judgements:
                _print_judgement(judgement)
    finally:
        storage.dispose()


def _print_judgement(judgement: Any) -> None:
    line = f"\ntopic {judgement.topic}: {judgement.status.upper()}"
    if judgement.duplicate_of:
        line += f" of {judgement.duplicate_of}"
    if judgement.cluster_id:
        line += f"  (cluster {judgement.cluster_id})"
    _out(line)
    reasons = dict(judgement.reasons or {})
    _out(f"  decided by: {reasons.pop('layer', '?')}")
    for key, value in reasons.items():
        if key in ("topic", "decided_at"):
            continue
        if isinstance(value, dict):
            _out(f"  {key}:")
            for sub, subvalue in value.items():
                if isinstance(subvalue, list) and subvalue and isinstance(subvalue[0], str) \
                        and len(subvalue[0]) > 40:
                    _out(f"    {sub}:")
                    for sentence in subvalue:
                        _out(f"      - {sentence}")
                else:
                    _out(f"    {sub}: {subvalue}")
        else:
            _out(f"  {key}: {value}")


def evaluate_command(
    labelled: Annotated[list[Path], typer.Argument(help="Labelled JSON-lines files.")],
    seeds: Annotated[
        list[str] | None,
        typer.Option("--seeds", help="Seed file or URL (repeat for several); required."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Judge labelled items against seeds in a fresh temporary database and score it.

    Each line: {"id", "label": followup|duplicate|offtopic, "text", optional "title", "url",
    "language", "source", "published_at", "duplicate_of"}. Items are judged in
    published_at order.

    Example: storywatch eval tests/data/eval/*.jsonl --seeds tests/data/eval/seeds/seed-a.txt
    """
    from storywatch.classify.evaluate import LabelledError, evaluate, read_labelled
    from storywatch.classify.seeds import SeedError

    if fmt not in ("text", "json"):
        fail(f"--format {fmt!r}: use text or json")
    if not seeds:
        fail("give the topic's seeds: --seeds FILE_OR_URL (repeat for several)")
    try:
        records = read_labelled(labelled)
        if not records:
            fail("the labelled files hold no items")
        report = evaluate(records, seeds)
    except (LabelledError, SeedError) as exc:
        fail(str(exc))
    summary = report.summary()
    if fmt == "json":
        summary["misjudged"] = [
            {"id": o.record["id"], "label": o.record["label"], "status": o.status,
             "reasons": o.reasons} for o in report.misjudged()]
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return
    out = _out
    out(f"{summary['items']} items, accuracy {summary['accuracy']:.3f}")
    out(f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for cls, m in summary["classes"].items():
        out(f"{cls:<10} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} "
            f"{m['support']:>8}")
    out("\nconfusion (rows: label, columns: judged)")
    classes = list(summary["classes"])
    out(f"{'':<10} " + " ".join(f"{c:>9}" for c in classes))
    for label in classes:
        row = summary["confusion"].get(label, {})
        out(f"{label:<10} " + " ".join(f"{row.get(c, 0):>9}" for c in classes))
    out("\nper language: " + ", ".join(
        f"{lang} {v['accuracy']:.3f} ({v['items']})"
        for lang, v in summary["per_language"].items()))
    clusters = summary["clusters"]
    out(f"clusters: {clusters['judged_together']} of {clusters['same_development_pairs']} "
        f"same-development pairs together, {clusters['falsely_merged']} of "
        f"{clusters['different_development_pairs']} other pairs merged")
    misjudged = report.misjudged()
    out(f"\n{len(misjudged)} misjudged")
    for o in misjudged:
        r = o.reasons
        rel = r.get("relevance", {})
        nov = r.get("novelty", {})
        out(f"- {o.record['id']} labelled {o.record['label']}, judged {o.status} by "
            f"{r.get('layer')}: relevance {rel.get('score')} (min {rel.get('threshold')}), "
            f"novelty {nov.get('score')}, new anchors {nov.get('new_anchors')}")


def rescore(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    unjudged: Annotated[
        bool, typer.Option("--unjudged", help="Only items without a judgement (after a crash).")
    ] = False,
) -> None:
    """Re-judge stored items (after a topic or threshold change); nothing is fetched
    except seed URLs not fetched before.

    Example: storywatch rescore --topic deserters
    """
    from storywatch.classify.seeds import SeedError
    from storywatch.classify.service import Classifier

    opts = options(ctx)
    config = opts.config()
    if not config.topics:
        fail("the config has no topics to judge items for")
    if topic is not None:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        done = Classifier(config).rescore(storage, topic=topic, only_unjudged=unjudged)
    except SeedError as exc:
        fail(str(exc))
    finally:
        storage.dispose()
    _out(f"judged {done} items")


def register(app: typer.Typer) -> None:
    app.command()(explain)
    app.command(name="eval")(evaluate_command)
    app.command()(rescore)
