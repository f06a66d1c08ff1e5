"""Subscribers and schedules: validation, storage on both databases, the CLI, unsubscribing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storywatch.normalise.dates import utc_now
from storywatch.notify.subscribers import (
    Schedule,
    SubscriptionError,
    add_subscription,
    list_subscriptions,
    normalise_email,
    remove_subscriber,
    remove_subscription,
)
from storywatch.notify.tokens import BadToken, make_token, read_token, signing_secret
from storywatch.storage import open_storage
from storywatch.storage.notify import Subscriber
from tests.conftest import run_cli
from tests.test_notify_support import TOPIC, write_config

# ---- schedules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"every": "hourly"}, "use immediate, daily or weekly"),
        ({"at": "25:00"}, "not a time of day"),
        ({"at": "7"}, "not a time of day"),
        ({"tz": "Mars/Olympus"}, "not a known time zone"),
        ({"tz": "../etc/passwd"}, "not a known time zone"),
        ({"day": "someday"}, "use a weekday name"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(kwargs: dict[str, str], problem: str) -> None:
    with pytest.raises(SubscriptionError, match=problem):
        Schedule.parse(**kwargs)


def test_schedule_parse_normalises() -> None:
    schedule = Schedule.parse(every="weekly", at="7:05", tz="Europe/Paris", day="Fri")
    assert (schedule.at, schedule.weekday) == ("07:05", 4)
    assert schedule.describe() == "weekly friday 07:05 Europe/Paris"


def test_daily_slot_is_local_time_across_the_dst_change() -> None:
    paris = Schedule.parse(every="daily", at="07:00", tz="Europe/Paris")
    # Summer time (UTC+2): 07:00 in Paris is 05:00 UTC.
    assert paris.last_slot(datetime(2024, 10, 10, 5, 30, tzinfo=UTC)) == \
        datetime(2024, 10, 10, 5, 0, tzinfo=UTC)
    # Before today's slot, the latest slot is yesterday's.
    assert paris.last_slot(datetime(2024, 10, 10, 4, 59, tzinfo=UTC)) == \
        datetime(2024, 10, 9, 5, 0, tzinfo=UTC)
    # Winter time from 27 October 2024 (UTC+1): 07:00 is 06:00 UTC.
    assert paris.last_slot(datetime(2024, 10, 28, 6, 30, tzinfo=UTC)) == \
        datetime(2024, 10, 28, 6, 0, tzinfo=UTC)


def test_weekly_slot_lands_on_its_weekday() -> None:
    weekly = Schedule.parse(every="weekly", at="18:00", tz="UTC", day="monday")
    # Thursday 10 October 2024 -> Monday 7 October 18:00.
    assert weekly.last_slot(datetime(2024, 10, 10, 12, tzinfo=UTC)) == \
        datetime(2024, 10, 7, 18, tzinfo=UTC)
    # Monday itself, before and after 18:00.
    assert weekly.last_slot(datetime(2024, 10, 14, 17, tzinfo=UTC)) == \
        datetime(2024, 10, 7, 18, tzinfo=UTC)
    assert weekly.last_slot(datetime(2024, 10, 14, 18, tzinfo=UTC)) == \
        datetime(2024, 10, 14, 18, tzinfo=UTC)


def test_due_rules() -> None:
    created = datetime(2024, 10, 9, 12, tzinfo=UTC)
    daily = Schedule.parse(every="daily", at="07:00", tz="UTC")
    morning = datetime(2024, 10, 10, 7, 1, tzinfo=UTC)
    assert daily.is_due(morning, None, created, has_news=False)
    assert not daily.is_due(morning, morning, created, has_news=True)  # slot handled
    # A slot earlier than the subscription itself does not count.
    assert not daily.is_due(datetime(2024, 10, 9, 13, tzinfo=UTC), None, created, True)
    immediate = Schedule.parse(every="immediate")
    assert immediate.is_due(morning, morning, created, has_news=True)
    assert not immediate.is_due(morning, None, created, has_news=False)


def test_email_validation() -> None:
    assert normalise_email("  Ana@Example.ORG ") == "Ana@example.org"
    for bad in ("not-an-address", "a@b", "ana@example.org\r\nBcc: x@evil.example",
                "José@example.org"):
        with pytest.raises(SubscriptionError, match="not a valid email address"):
            normalise_email(bad)


# ---- storage --------------------------------------------------------------------------


def test_subscriptions_round_trip_and_upsert(database_url: str) -> None:
    storage = open_storage(database_url)
    now = utc_now()
    with storage.session() as session:
        assert add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), now)
        assert add_subscription(session, "ana@example.org", "other", Schedule.parse(), now)
        assert add_subscription(session, "bo@example.org", TOPIC, Schedule.parse(), now)
    with storage.session() as session:
        # Again with another schedule: the same row, updated.
        assert not add_subscription(session, "ana@EXAMPLE.org", TOPIC,
                                    Schedule.parse(every="weekly", tz="Europe/Paris"), now)
    with storage.session() as session:
        rows = list_subscriptions(session, topic=TOPIC)
        assert [(r.email, r.schedule.every) for r in rows] == [
            ("ana@example.org", "weekly"), ("bo@example.org", "daily")]
        assert rows[0].schedule.tz == "Europe/Paris"
        assert session.execute(select(func.count(Subscriber.id))).scalar_one() == 2
    with storage.session() as session:
        assert remove_subscription(session, "ana@example.org", TOPIC)
        assert not remove_subscription(session, "ana@example.org", TOPIC)
        assert [r.topic for r in list_subscriptions(session, email="ana@example.org")] == \
            ["other"]
        assert remove_subscriber(session, "ana@example.org")
        assert list_subscriptions(session, email="ana@example.org") == []
    storage.dispose()


def test_signing_secret_is_generated_once_and_env_overrides(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORYWATCH_SECRET", raising=False)
    storage = open_storage(database_url)
    with storage.session() as session:
        first = signing_secret(session)
    with storage.session() as session:
        assert signing_secret(session) == first
    assert len(first) >= 40
    token = make_token(first, "ana@example.org", TOPIC, utc_now())
    assert read_token(first, token).email == "ana@example.org"
    with pytest.raises(BadToken):
        read_token(first, token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1])
    with pytest.raises(BadToken):
        read_token("another key", token)
    monkeypatch.setenv("STORYWATCH_SECRET", "from-the-environment")
    with storage.session() as session:
        assert signing_secret(session) == "from-the-environment"
    storage.dispose()


# ---- CLI ------------------------------------------------------------------------------


def test_cli_add_list_remove(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    added = run_cli("subscribers", "add", "ana@example.org", "--topic", TOPIC, "--every",
                    "daily", "--at", "07:00", "--tz", "Europe/Paris", config=config)
    assert added.code == 0, added.stderr
    assert "subscribed: ana@example.org → deserters (daily 07:00 Europe/Paris)" in added.stdout
    listed = run_cli("subscribers", "list", config=config)
    assert listed.code == 0 and "ana@example.org" in listed.stdout
    assert "Europe/Paris" in listed.stdout
    removed = run_cli("subscribers", "remove", "ana@example.org", "--topic", TOPIC,
                      config=config)
    assert removed.code == 0, removed.stderr
    again = run_cli("subscribers", "remove", "ana@example.org", "--topic", TOPIC, config=config)
    assert again.code == 1 and "is not subscribed" in again.stderr
    assert "ana@example.org" not in run_cli("subscribers", "list", config=config).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not an address"], "is not a valid email address"),
        (["ana@example.org", "--topic", "knitting"], "no topic named 'knitting'"),
        (["ana@example.org", "--at", "7pm"], "--at '7pm' is not a time of day"),
        (["ana@example.org", "--tz", "Europe/Atlantis"], "not a known time zone"),
        (["ana@example.org", "--every", "hourly"], "use immediate, daily or weekly"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(tmp_path: Path, args: list[str],
                                           message: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}")
    if "--topic" not in args:
        args = [*args, "--topic", TOPIC]
    result = run_cli("subscribers", "add", *args, config=config)
    assert result.code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_unsubscribe_token(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    assert run_cli("subscribers", "add", "ana@example.org", "--topic", TOPIC,
                   config=config).code == 0
    storage = open_storage(database_url)
    with storage.session() as session:
        (row,) = list_subscriptions(session)
        token = make_token(signing_secret(session), "ana@example.org", TOPIC, row.created_at)
    forged = make_token("not our key", "ana@example.org", TOPIC, row.created_at)
    refused = run_cli("unsubscribe", forged, config=config)
    assert refused.code == 2 and "not valid" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = run_cli("unsubscribe", token, config=config)
    assert done.code == 0, done.stderr
    assert "unsubscribed: ana@example.org from deserters" in done.stdout
    with storage.session() as session:
        assert list_subscriptions(session) == []
    # The link works once and keeps saying so afterwards (mail clients may POST twice).
    twice = run_cli("unsubscribe", token, config=config)
    assert twice.code == 0 and "already unsubscribed" in twice.stdout
    storage.dispose()


def test_subscription_created_time_is_now(database_url: str) -> None:
    storage = open_storage(database_url)
    before = utc_now()
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
    with storage.session() as session:
        (row,) = list_subscriptions(session)
    assert before - timedelta(seconds=1) <= row.created_at <= utc_now()
    assert row.last_run_at is None and row.last_sent_at is None
    storage.dispose()


# ---- issue 11: tokens expire and die with their subscription; encoded-word addresses ----


def test_unsubscribe_token_expires() -> None:
    now = utc_now()
    subscribed = now - timedelta(days=200)
    fresh = make_token("key", "ana@example.org", TOPIC, subscribed, now=now - timedelta(days=89))
    old = make_token("key", "ana@example.org", TOPIC, subscribed, now=now - timedelta(days=91))
    assert read_token("key", fresh, now=now).email == "ana@example.org"
    with pytest.raises(BadToken, match="expired"):
        read_token("key", old, now=now)


def test_old_link_stops_working_after_subscribing_again(database_url: str) -> None:
    from storywatch.notify.tokens import redeem

    storage = open_storage(database_url)
    first_time = utc_now() - timedelta(days=3)
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), first_time)
        secret = signing_secret(session)
        old = make_token(secret, "ana@example.org", TOPIC,
                         list_subscriptions(session)[0].created_at)
    with storage.session() as session:
        assert redeem(session, read_token(secret, old)) is True
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
        new = make_token(secret, "ana@example.org", TOPIC,
                         list_subscriptions(session)[0].created_at)
    with storage.session() as session, pytest.raises(BadToken, match="earlier subscription"):
        redeem(session, read_token(secret, old))
    with storage.session() as session:
        assert len(list_subscriptions(session)) == 1, "the old link ended nothing"
    with storage.session() as session:
        assert redeem(session, read_token(secret, new)) is True
    with storage.session() as session:
        assert list_subscriptions(session) == []
    storage.dispose()


@pytest.mark.parametrize("address", [
    "=?utf-8?q?a=2C_b=40evil.example?=@example.org",
    "=?utf-8?b?YUBiLmM=?=@example.org",
    "x=?utf-8?q?a?=y@example.org",
])
def test_encoded_word_addresses_are_refused_at_add(tmp_path: Path, address: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'sw.db'}")
    result = run_cli("subscribers", "add", address, "--topic", TOPIC, config=config)
    assert result.code == 2, (result.stdout, result.stderr)
    assert "encoded word" in result.stderr and "Traceback" not in result.stderr
    assert address not in run_cli("subscribers", "list", config=config).stdout


def test_an_address_stored_before_the_rule_can_still_be_removed(database_url: str) -> None:
    from sqlalchemy import update

    storage = open_storage(database_url)
    bad = "=?utf-8?b?YUBiLmM=?=@example.org"
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC, Schedule.parse(), utc_now())
        session.execute(update(Subscriber).values(email=bad))  # as stored by an older version
    with storage.session() as session:
        assert [r.email for r in list_subscriptions(session, email=bad)] == [bad]
        assert remove_subscriber(session, bad) is True
    with storage.session() as session:
        assert list_subscriptions(session) == []
    storage.dispose()
