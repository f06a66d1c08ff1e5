"""Digests end to end: selection and grouping on both databases, rendering that keeps
scraped text harmless, and delivery through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from storywatch.config import ConfigError, load_config
from storywatch.normalise.dates import utc_now
from storywatch.notify import send_due_digests
from storywatch.notify.digest import Digest, build_digest, lead_of, one_line
from storywatch.notify.ledger import claim, ledger_counts, mark, reconcile
from storywatch.notify.render import render_digest
from storywatch.notify.subscribers import Schedule, add_subscription, list_subscriptions
from storywatch.notify.tokens import read_token, signing_secret
from storywatch.storage import Storage, open_storage
from storywatch.storage.notify import DigestDelivery
from tests import test_notify_support as support
from tests.conftest import run_cli
from tests.test_notify_support import (
    HOSTILE_TITLE,
    TOPIC,
    WORLD,
    Received,
    SmtpServer,
    free_port,
    store,
    write_config,
)

# The session's SMTP server, shared with the other digest test modules.
smtp_session = support.smtp_session
smtp = support.smtp

ANA, BO = "ana@example.org", "bo@example.org"
SHOWN = ("France lets in six Russian deserters on short-term visas",
         "Volunteer network hopes other European states will follow France")
NEVER = ("COPY France lets in six Russian deserters", "Security chief warns of sabotage",
         "Aggregator Daily", "Capital Wire")


def subscribe(storage: Storage, email: str, schedule: Schedule | None = None,
              topic: str = TOPIC, at: datetime | None = None) -> None:
    with storage.session() as session:
        add_subscription(session, email, topic, schedule or Schedule.parse("immediate"),
                         at or utc_now())


def parts(received: Received) -> tuple[EmailMessage, str, str]:
    message = received.message
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    return message, text_part.get_content(), html_part.get_content()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("href", "src", "action")]


def tags_and_urls(html: str) -> tuple[set[str], list[str]]:
    """The real elements and link targets of a document (not text that looks like them)."""
    collector = _Collector()
    collector.feed(html)
    return collector.tags, collector.urls


# ---- selection and grouping -----------------------------------------------------------


def last_day_digest(storage: Storage, tz: str = "UTC", max_items: int = 50) -> Digest | None:
    """Ana's digest of the follow-ups stored in the last day."""
    with storage.session() as session:
        return build_digest(session, topic=TOPIC, email=ANA, tz=tz,
                            since=utc_now() - timedelta(days=1), subscriber_id=None,
                            max_items=max_items, lead_chars=320)


def test_digest_holds_followups_grouped_by_cluster_newest_first(database_url: str) -> None:
    storage = open_storage(database_url)
    ids = store(storage)
    digest = last_day_digest(storage, tz="Europe/Paris")
    assert digest is not None
    # network (30 h), hostile (20 h), visas (0 h, with visas-2 folded in): newest first.
    assert [e.primary.item_id for e in digest.entries] == [ids["network"], ids["hostile"],
                                                          ids["visas"]]
    visas = digest.entries[2]
    assert [o.source for o in visas.also] == ["Northern Ledger"]
    assert ids["copy"] not in digest.item_ids and ids["sabotage"] not in digest.item_ids
    # The novel sentences of the judgement make the lead when there are some.
    assert digest.entries[0].primary.lead == \
        "Their spokesman hopes more governments will open the door."
    # A javascript: URL is never a link.
    assert digest.entries[1].primary.url is None
    storage.dispose()


def test_max_items_holds_back_the_older_rest(database_url: str) -> None:
    storage = open_storage(database_url)
    store(storage)
    digest = last_day_digest(storage, max_items=2)
    assert digest is not None and len(digest.entries) == 2 and digest.held_back == 1
    rendered = render_digest(digest, unsubscribe_url=None, schedule="immediate")
    assert "1 more development waits for your next digest" in rendered.text
    storage.dispose()


def test_lead_is_whole_first_sentences_within_the_limit() -> None:
    text = "First sentence here. Second one follows! Third is long " + "x " * 200 + "end."
    assert lead_of(text, None, 60) == "First sentence here. Second one follows!"
    assert lead_of(text, [], 25) == "First sentence here."
    # One over-long sentence is shortened at a word boundary.
    assert lead_of("word " * 100, None, 40).endswith("…")
    assert len(lead_of("word " * 100, None, 40)) <= 41
    assert lead_of(text, ["Only\nthis is new.", 7], 300) == "Only this is new."
    assert lead_of(text, [{"text": "Recorded as a dict.", "score": 0.9}], 300) == \
        "Recorded as a dict."


def test_rendering_keeps_scraped_text_harmless(database_url: str) -> None:
    storage = open_storage(database_url)
    store(storage)
    digest = last_day_digest(storage)
    assert digest is not None
    rendered = render_digest(digest, unsubscribe_url="https://watch.example.org/u?token=t",
                             schedule="immediate")
    html = rendered.html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "javascript:" not in html
    assert "&lt;script&gt;alert" in html  # shown as text, not run
    assert "Odd &lt;b&gt;Source&lt;/b&gt;" in html
    tags, urls = tags_and_urls(html)
    assert urls and all(u.startswith(("https://", "http://")) for u in urls)
    assert not {"script", "img", "iframe", "object"} & tags
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    # Responsive on phones: the media query survives inlining, the layout has a viewport.
    assert "@media only screen and (max-width: 480px)" in html
    assert 'name="viewport"' in html
    storage.dispose()


def test_headers_refuse_line_breaks_even_without_our_cleaning() -> None:
    message = EmailMessage(policy=SMTP_POLICY)
    with pytest.raises(ValueError):
        message["Subject"] = HOSTILE_TITLE
    assert "\n" not in one_line(HOSTILE_TITLE) and "\r" not in one_line(HOSTILE_TITLE)


# ---- the ledger -----------------------------------------------------------------------


def test_claim_is_exclusive_and_failed_items_come_back(database_url: str) -> None:
    storage = open_storage(database_url)
    ids = store(storage)
    subscribe(storage, ANA)
    now = utc_now()
    with storage.session() as session:
        subscriber_id = list_subscriptions(session)[0].subscriber_id
    wanted = [ids["visas"], ids["network"]]
    with storage.session() as session:
        first = claim(session, subscriber_id=subscriber_id, topic=TOPIC, item_ids=wanted,
                      digest_id="d1", now=now)
    with storage.session() as session:
        second = claim(session, subscriber_id=subscriber_id, topic=TOPIC, item_ids=wanted,
                       digest_id="d2", now=now)
    assert first == set(wanted) and second == set()
    with storage.session() as session:
        assert mark(session, "d1", "failed", now, error="451 try later") == 2
    with storage.session() as session:
        third = claim(session, subscriber_id=subscriber_id, topic=TOPIC,
                      item_ids=[*wanted, ids["hostile"]], digest_id="d3", now=now)
        attempts = session.execute(
            select(DigestDelivery.attempts).where(DigestDelivery.item_id == ids["visas"])
        ).scalar_one()
    assert third == {*wanted, ids["hostile"]} and attempts == 2
    storage.dispose()


def test_reconcile_turns_abandoned_sending_rows_into_unknown(database_url: str) -> None:
    storage = open_storage(database_url)
    ids = store(storage)
    subscribe(storage, ANA)
    now = utc_now()
    with storage.session() as session:
        subscriber_id = list_subscriptions(session)[0].subscriber_id
        claim(session, subscriber_id=subscriber_id, topic=TOPIC, item_ids=[ids["visas"]],
              digest_id="mine", now=now)
        claim(session, subscriber_id=subscriber_id, topic=TOPIC, item_ids=[ids["network"]],
              digest_id="dead", now=now)
        claim(session, subscriber_id=subscriber_id, topic=TOPIC, item_ids=[ids["hostile"]],
              digest_id="old", now=now - timedelta(hours=3))
        # A process on this host that no longer exists (pid 1 did not start in 1970).
        session.execute(DigestDelivery.__table__.update()
                        .where(DigestDelivery.digest_id == "dead")
                        .values(owner=f"{socket.gethostname()}:1:0"))
    with storage.session() as session:
        assert reconcile(session, now, grace=timedelta(hours=1)) == 2
        rows = session.execute(select(DigestDelivery.digest_id, DigestDelivery.state)).all()
    states = {digest_id: state for digest_id, state in rows}
    assert states == {"mine": "sending", "dead": "unknown", "old": "unknown"}
    storage.dispose()


# ---- delivery through a real SMTP server ----------------------------------------------


def test_digests_arrive_complete_and_never_twice(tmp_path: Path, database_url: str,
                                                 smtp: SmtpServer) -> None:
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(config.storage.url)
    ids = store(storage)
    subscribe(storage, ANA, Schedule.parse("immediate", tz="Europe/Paris"))
    subscribe(storage, BO)
    subscribe(storage, "carla@example.org", topic="other")  # nothing new there: no mail

    summary = send_due_digests(config, storage)
    assert (summary.sent, summary.failed, summary.due) == (2, 0, 2), summary
    assert summary.items_sent == 8  # 4 items each: network, hostile, visas, visas-2
    received = smtp.sink.wait_for(2)
    assert sorted(r.recipients[0] for r in received) == [ANA, BO]
    assert all(len(r.recipients) == 1 for r in received)

    for mail in received:
        message, text, html = parts(mail)
        address = mail.recipients[0]
        assert message["To"] == address
        assert message["From"] == "Storywatch <digest@storywatch.example>"
        assert message["Subject"] == ("[deserters] 3 new developments: Volunteer network "
                                      "hopes other European states will follow France")
        assert message.get_content_type() == "multipart/alternative"
        assert message["Bcc"] is None and "victim@evil.example" not in mail.recipients
        for title in SHOWN:
            assert title in text and title in html
        for hidden in NEVER:
            assert hidden not in text and hidden not in html
        assert "Also reported by" in html and "Northern Ledger" in html
        assert 'href="https://news.example/visas.html"' in html
        assert "<script" not in html and "javascript:" not in html
        # List-Unsubscribe is the same signed link as in both bodies, and it names this
        # subscriber and topic.
        link = message["List-Unsubscribe"].strip("<>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert link.startswith("https://watch.example.org/unsubscribe?token=")
        assert link in text and link.replace("&", "&amp;") in html
        token = parse_qs(urlsplit(link).query)["token"][0]
        with storage.session() as session:
            request = read_token(signing_secret(session), token)
        assert (request.email, request.topic) == (address, TOPIC)
    ana_text = parts(smtp.sink.to(ANA)[0])[1]
    assert "CEST" in ana_text  # the subscriber's zone
    assert "UTC" in parts(smtp.sink.to(BO)[0])[1]

    # A second run finds nothing new: nothing is sent again.
    again = send_due_digests(config, storage)
    assert (again.sent, again.due) == (0, 0)
    assert len(smtp.sink.messages) == 2

    # A new follow-up goes out alone, once.
    store(storage, [{"key": "asylum", "source": "Harbour Times", "status": "followup",
                     "cluster": None, "hours": 40,
                     "title": "Asylum hearings for the deserters set for winter",
                     "text": "The French office for refugees will hear the men in winter."}])
    third = send_due_digests(config, storage)
    assert (third.sent, third.items_sent) == (2, 2)
    latest = smtp.sink.wait_for(4)[2:]
    for mail in latest:
        _, text, _ = parts(mail)
        assert "Asylum hearings for the deserters set for winter" in text
        assert all(title not in text for title in SHOWN)
    with storage.session() as session:
        assert ledger_counts(session) == {"sent": 10}
    assert ids  # the stored world was used
    storage.dispose()


def test_hostile_title_arrives_harmless(tmp_path: Path, smtp: SmtpServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    store(storage, [entry for entry in WORLD if entry["key"] == "hostile"])
    subscribe(storage, ANA)
    assert send_due_digests(config, storage).sent == 1
    (mail,) = smtp.sink.wait_for(1)
    message, _text, html = parts(mail)
    assert mail.recipients == [ANA]
    assert message["Subject"] == ("[deserters] 1 new development: Deserters "
                                  "<script>alert('x')</script> Bcc: victim@evil.example")
    assert message["Bcc"] is None and b"\r\nBcc:" not in mail.data
    assert "<script" not in html and "<img" not in html
    tags, urls = tags_and_urls(html)
    assert "img" not in tags and "script" not in tags
    assert urls and not any("tracker.example" in url for url in urls)
    assert "&lt;script&gt;" in html
    storage.dispose()


def test_refused_send_is_marked_failed_and_retried_next_run(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(config.storage.url)
    store(storage)
    subscribe(storage, ANA)
    subscribe(storage, BO)
    smtp.sink.refuse[BO] = "451 4.3.0 mailbox busy, try later"
    first = send_due_digests(config, storage)
    assert (first.sent, first.failed) == (1, 1), first
    assert [r.recipients for r in smtp.sink.messages] == [[ANA]]
    with storage.session() as session:
        assert ledger_counts(session) == {"sent": 4, "failed": 4}
    smtp.sink.refuse.clear()
    second = send_due_digests(config, storage)
    assert (second.sent, second.failed, second.items_sent) == (1, 0, 4)
    assert [r.recipients for r in smtp.sink.wait_for(2)] == [[ANA], [BO]]
    _, text, _ = parts(smtp.sink.to(BO)[0])
    assert all(title in text for title in SHOWN)
    with storage.session() as session:
        assert ledger_counts(session) == {"sent": 8}
    storage.dispose()


def test_unreachable_server_stops_the_run_and_keeps_items_pending(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    closed = SmtpServer("127.0.0.1", free_port(), smtp.sink)  # nothing listens there
    config = load_config(write_config(tmp_path, database_url, closed))
    storage = open_storage(database_url)
    store(storage)
    subscribe(storage, ANA)
    subscribe(storage, BO)
    summary = send_due_digests(config, storage)
    assert summary.sent == 0 and summary.failed == 1 and summary.aborted
    assert "cannot connect" in summary.aborted
    working = load_config(write_config(tmp_path, database_url, smtp))
    later = send_due_digests(working, storage)
    assert (later.sent, later.items_sent) == (2, 8)
    storage.dispose()


def test_daily_digest_goes_once_per_local_slot(tmp_path: Path, smtp: SmtpServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    created = utc_now()
    store(storage, decided_at=created - timedelta(hours=2))
    subscribe(storage, ANA, Schedule.parse("daily", at="07:00", tz="Europe/Paris"), at=created)
    paris_slot = Schedule.parse("daily", at="07:00", tz="Europe/Paris").last_slot(
        created + timedelta(days=1))
    assert paris_slot is not None
    before = send_due_digests(config, storage, paris_slot - timedelta(minutes=1))
    assert (before.due, before.sent) == (0, 0)
    at_slot = send_due_digests(config, storage, paris_slot + timedelta(minutes=1))
    assert at_slot.sent == 1
    # New coverage later the same day waits for the next morning.
    store(storage, [{"key": "late", "source": "Harbour Times", "status": "followup",
                     "cluster": None, "hours": 50, "title": "Late news on the deserters",
                     "text": "Something new came up in the afternoon."}],
          decided_at=paris_slot + timedelta(hours=3))
    same_day = send_due_digests(config, storage, paris_slot + timedelta(hours=5))
    assert (same_day.due, same_day.sent) == (0, 0)
    next_day = send_due_digests(config, storage, paris_slot + timedelta(days=1, minutes=1))
    assert (next_day.sent, next_day.items_sent) == (1, 1)
    # The day after, nothing new: due, but an empty digest is not sent.
    empty = send_due_digests(config, storage, paris_slot + timedelta(days=2, minutes=1))
    assert (empty.due, empty.empty, empty.sent) == (1, 1, 0)
    assert len(smtp.sink.wait_for(2)) == 2
    storage.dispose()


def test_sending_needs_smtp_and_public_url(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url))
    storage = open_storage(database_url)
    with pytest.raises(ConfigError, match=r"no \[smtp\] section"):
        send_due_digests(config, storage)
    result = run_cli("digest", "send", config=tmp_path / "storywatch.toml")
    assert result.code == 2 and "no [smtp] section" in result.stderr
    assert "Traceback" not in result.stderr
    storage.dispose()


# ---- the commands, and a crash between send and record ---------------------------------


def test_cli_dry_run_send_and_preview(tmp_path: Path, database_url: str,
                                      smtp: SmtpServer) -> None:
    config = write_config(tmp_path, database_url, smtp)
    storage = open_storage(database_url)
    store(storage)
    storage.dispose()
    assert run_cli("subscribers", "add", ANA, "--topic", TOPIC, "--every", "immediate",
                   config=config).code == 0
    dry = run_cli("digest", "send", "--dry-run", config=config)
    assert dry.code == 0, dry.stderr
    assert f"would send to {ANA} [deserters] 4 items" in dry.stdout
    assert smtp.sink.messages == []
    out = tmp_path / "digest.html"
    preview = run_cli("digest", "preview", "--topic", TOPIC, "--subscriber", ANA, "--out",
                      str(out), config=config)
    assert preview.code == 0, preview.stderr
    assert all(title in out.read_text(encoding="utf-8") for title in SHOWN)
    sent = run_cli("digest", "send", "--topic", TOPIC, config=config)
    assert sent.code == 0, sent.stderr
    assert "1 digests sent (4 items)" in sent.stdout
    assert [r.recipients for r in smtp.sink.wait_for(1)] == [[ANA]]
    nothing = run_cli("digest", "preview", "--topic", TOPIC, "--subscriber", ANA, "--out",
                      str(out), config=config)
    assert nothing.code == 1 and "nothing to show" in nothing.stderr
    unknown = run_cli("digest", "send", "--topic", "knitting", config=config)
    assert unknown.code == 2 and "no topic named 'knitting'" in unknown.stderr


def test_crash_between_send_and_record_never_sends_twice(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    config = write_config(tmp_path, database_url, smtp)
    storage = open_storage(database_url)
    store(storage)
    subscribe(storage, ANA)
    subscribe(storage, BO)
    # The child exits (os._exit) right after the server accepted the first digest, before
    # the ledger says "sent": the worst moment.
    crashed = run_cli("digest", "send", config=config,
                      env={"STORYWATCH_FAULT_EXIT_AFTER_SEND": "1"})
    assert crashed.code == 75, (crashed.stdout, crashed.stderr)
    assert len(smtp.sink.wait_for(1)) == 1
    first_recipient = smtp.sink.messages[0].recipients[0]
    with storage.session() as session:
        assert ledger_counts(session) == {"sending": 4}
    restarted = run_cli("digest", "send", config=config)
    assert restarted.code == 0, restarted.stderr
    assert "4 reconciled" in restarted.stdout
    messages = smtp.sink.wait_for(2)
    assert len(messages) == 2
    assert len(smtp.sink.to(first_recipient)) == 1  # exactly one message, not two
    assert len(smtp.sink.to(BO if first_recipient == ANA else ANA)) == 1
    with storage.session() as session:
        assert ledger_counts(session) == {"unknown": 4, "sent": 4}
    # And a third run still sends nothing to anyone.
    assert run_cli("digest", "send", config=config).code == 0
    assert len(smtp.sink.messages) == 2
    storage.dispose()


def test_now_is_aware_utc() -> None:
    assert utc_now().tzinfo is not None and utc_now().utcoffset() == timedelta(0)
    assert datetime.now(UTC).tzinfo is UTC


@pytest.mark.parametrize(
    ("extra", "smtp_fields", "problem"),
    [
        ('public_url = "ftp://watch.example.org"', "", "digest.public_url: must be an absolute"),
        ("max_items = 0", "", "digest.max_items"),
        ("", 'sender = "not an address"', "smtp.sender: 'not an address' is not an email"),
        ("", 'sender = "=?utf-8?q?News=0D=0A?= <digest@example.org>"',
         "must not contain an RFC 2047 encoded word"),
        ("", "retries = 99", "smtp.retries"),
    ],
)
def test_bad_digest_settings_name_the_field(tmp_path: Path, extra: str, smtp_fields: str,
                                            problem: str) -> None:
    path = tmp_path / "storywatch.toml"
    smtp_section = smtp_fields if "sender" in smtp_fields else \
        f'sender = "digest@example.org"\n{smtp_fields}'
    path.write_text(f"""
[[topics]]
name = "{TOPIC}"
seeds = ["https://news.example/seed.html"]

[smtp]
host = "127.0.0.1"
{smtp_section}

[digest]
{extra}
""", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_config(path)


def test_one_item_in_two_topics_reaches_a_subscriber_once(tmp_path: Path,
                                                         smtp: SmtpServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    visas = [entry for entry in WORLD if entry["key"] == "visas"]
    store(storage, visas)
    store(storage, visas, topic="other")
    subscribe(storage, ANA)
    subscribe(storage, ANA, topic="other")
    summary = send_due_digests(config, storage)
    assert (summary.sent, summary.items_sent) == (1, 1)
    assert len(smtp.sink.wait_for(1)) == 1
    assert send_due_digests(config, storage).sent == 0
    storage.dispose()


def test_two_concurrent_runs_send_each_item_once(tmp_path: Path, database_url: str,
                                                 smtp: SmtpServer) -> None:
    import threading

    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    store(storage)
    readers = [f"reader{n}@example.org" for n in range(6)]
    for reader in readers:
        subscribe(storage, reader)
    results: list[object] = []
    start = threading.Barrier(2)

    def run() -> None:
        # Each run has its own engine and connections, like two processes.
        own = open_storage(database_url)
        start.wait(timeout=30)
        try:
            results.append(send_due_digests(config, own))
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            results.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2 and not any(isinstance(r, Exception) for r in results), results
    for reader in readers:
        titles = [line for mail in smtp.sink.to(reader) for line in parts(mail)[1].splitlines()
                  if line[:3].strip().rstrip(".").isdigit()]
        assert len(titles) == 3, (reader, titles)  # three entries, each exactly once
    with storage.session() as session:
        assert ledger_counts(session) == {"sent": 4 * len(readers)}
    storage.dispose()
