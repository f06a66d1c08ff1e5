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


def _stored_item(session: Any, url: str) -> Any:
    """The stored item known by this URL in any of its forms, or exit 1 saying so."""
    from storywatch.normalise.urls import canonical_url
    from storywatch.storage.repository import item_by_url

    item = item_by_url(session, url) or item_by_url(session, canonical_url(url))
    if item is None:
        fail(f"no stored item has the URL {url}", code=1)
    return item


def explain(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The article URL (any known form of it).")],
    topic: Annotated[str | None, typer.Option(help="Only this topic's judgement.")] = None,
) -> None:
    """Print the stored judgement of an item and the reasons behind it.

    Example: storywatch explain https://example.org/news/deserters --topic deserters
    """
    from sqlalchemy import select

    from storywatch.storage.labels import labels_of_items
    from storywatch.storage.models import Judgement

    opts = options(ctx)
    config = opts.config()
    if topic is not None:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        with storage.session() as session:
            item = _stored_item(session, url)
            query = select(Judgement).where(Judgement.item_id == item.id)
            if topic is not None:
                query = query.where(Judgement.topic == topic)
            judgements = list(session.execute(query.order_by(Judgement.topic)).scalars())
            labels = {t: status for (_, t), status in labels_of_items(session, [item.id]).items()
                      if topic is None or t == topic}
            _out(f"{item.title or '(no title)'}")
            _out(f"{item.canonical_url}  [{item.source}, {item.language}]")
            if not judgements:
                _out("not judged yet (run: storywatch rescore)")
            for judgement in judgements:
                _print_judgement(judgement, labels.pop(judgement.topic, None))
            for labelled_topic, status in labels.items():
                _out(f"\ntopic {labelled_topic}: labelled {status.upper()} by a person "
                     "(not judged by the machine yet)")
    finally:
        storage.dispose()


def _print_judgement(judgement: Any, label: str | None) -> None:
    line = f"\ntopic {judgement.topic}: {judgement.status.upper()}"
    if judgement.duplicate_of:
        line += f" of {judgement.duplicate_of}"
    if judgement.cluster_id:
        line += f"  (cluster {judgement.cluster_id})"
    if judgement.confidence is not None:
        line += f"  confidence {judgement.confidence:.2f}"
    _out(line)
    if label is not None:
        agree = "agrees" if label == judgement.status else "overrides the machine"
        _out(f"  labelled by a person: {label.upper()} ({agree})")
    reasons = dict(judgement.reasons or {})
    _out(f"  decided by: {reasons.pop('layer', '?')}")
    for key, value in reasons.items():
        if key in ("topic", "decided_at"):
            continue
        if isinstance(value, dict):
            _out(f"  {key}:")
            for sub, subvalue in value.items():
                if isinstance(subvalue, dict):
                    _out(f"    {sub}: " + ", ".join(f"{k} {v}" for k, v in subvalue.items()))
                    continue
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
        out(f"- {o.record['id']} labelled {o.record['label']}, judged {o.status} by "
            f"{r.get('layer')}: probabilities {r.get('probabilities')}, "
            f"strongest signals {r.get('contributions')}")


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
    from storywatch.classify.seeds import SeedError, prefetch_seeds
    from storywatch.classify.service import Classifier

    opts = options(ctx)
    config = opts.config()
    if not config.topics:
        fail("the config has no topics to judge items for")
    if topic is not None:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        prefetch_seeds(config, storage)
        done = Classifier(config).rescore(storage, topic=topic, only_unjudged=unjudged)
    except SeedError as exc:
        fail(str(exc))
    finally:
        storage.dispose()
    _out(f"judged {done} items")


def label(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The article URL (any known form of it).")],
    status: Annotated[str, typer.Argument(help="followup, duplicate or offtopic.")],
    topic: Annotated[str | None, typer.Option(
        help="The topic (needed when the config has several).")] = None,
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
) -> None:
    """Record a person's judgement of an item: a correction the topic learns from.

    The label is stored apart from the machine's judgement, shown by `explain` and `items`,
    used by digests, and never overwritten by `rescore`; the next judgements of the topic
    take it into account (run `storywatch rescore --topic T` to re-judge what is stored).
    Find the items most worth a look with `storywatch items --uncertain`.

    Example: storywatch label https://example.org/news/deserters-asylum followup --topic deserters
    """
    from storywatch.normalise.dates import utc_now
    from storywatch.storage.labels import STATUSES, save_label

    if status not in STATUSES:
        fail(f"label {status!r}: use one of {', '.join(STATUSES)}")
    opts = options(ctx)
    config = opts.config()
    if topic is None:
        if len(config.topics) != 1:
            names = ", ".join(t.name for t in config.topics) or "none"
            fail(f"say which topic with --topic (the config has: {names})")
        topic = config.topics[0].name
    else:
        config.topic(topic)
    storage = opts.storage(config)
    try:
        with storage.session() as session:
            item = _stored_item(session, url)
            save_label(session, item_id=item.id, topic=topic, status=status,
                       labelled_at=utc_now(), note=note)
            _out(f"labelled {item.canonical_url} {status} for topic {topic}")
    finally:
        storage.dispose()


def register(app: typer.Typer) -> None:
    app.command()(explain)
    app.command()(label)
    app.command(name="eval")(evaluate_command)
    app.command()(rescore)
