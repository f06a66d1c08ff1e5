"""Header injection through scraped text: what arrives at a real SMTP server (aiosmtpd).

The interpreter that runs these tests is the proof for its own version: CPython before
3.11.10 decodes an RFC 2047 encoded word of a header and folds the decoded CR/LF out raw
(CVE-2024-6923). storywatch must not depend on that fix (docs/hardening.md).
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from storywatch.config import load_config
from storywatch.notify import send_due_digests
from storywatch.notify.render import MESSAGE_POLICY
from storywatch.notify.subscribers import Schedule, add_subscription
from storywatch.storage import open_storage
from tests import test_notify_support as support
from tests.test_notify_support import SmtpServer, store, write_config

smtp_session = support.smtp_session
smtp = support.smtp

ANA = "ana@example.org"
# The attack as reported: an encoded word whose decoded text starts new header lines.
BCC_WORD = "=?utf-8?q?=0D=0ABcc:_victim@evil.example=0D=0AX-Injected:_yes?="
# A 65-character title: Reply-To into the headers, then a blank line that would push the
# real headers (From, MIME) into the body.
REPLY_TO_WORD = "Breaking =?utf-8?q?=0D=0AReply-To:_a@evil.example=0D=0A=0D=0A?= x"
# Base64 encoded words and a non-ASCII title that the folder must encode.
B_WORD = "Déserteurs: =?utf-8?b?DQpCY2M6IHZpY3RpbUBldmlsLmV4YW1wbGUNCg==?= " + "é" * 40
TITLES = [BCC_WORD, REPLY_TO_WORD, B_WORD]


def header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n")
            if line and not line[0].isspace()]


@pytest.mark.parametrize("title", TITLES, ids=["bcc-q-word", "reply-to-65", "bcc-b-word"])
def test_encoded_word_in_a_title_adds_no_header(tmp_path: Path, smtp: SmtpServer,
                                                title: str) -> None:
    assert len(REPLY_TO_WORD) == 65
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    store(storage, [{"key": "attack", "source": "Odd Source", "status": "followup",
                     "cluster": None, "hours": 1, "title": title,
                     "text": "A follow-up whose title carries an encoded word."}])
    with storage.session() as session:
        add_subscription(session, ANA, support.TOPIC, Schedule.parse("immediate"),
                         support.BASE)
    assert send_due_digests(config, storage).sent == 1
    (mail,) = smtp.sink.wait_for(1)
    assert mail.recipients == [ANA]
    names = header_names(mail.data)
    assert not {"bcc", "x-injected", "reply-to"} & set(names), names
    # The real headers are all still headers, each once, and the body is the digest.
    for name in ("from", "to", "subject", "list-id", "list-unsubscribe", "mime-version"):
        assert names.count(name) == 1, (name, names)
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Storywatch <digest@storywatch.example>"
    assert message["Bcc"] is None and message["Reply-To"] is None
    # The subject reads as the title, with its encoded word shown as text, not decoded.
    subject = str(message["Subject"])
    assert subject.startswith("[deserters] 1 new development: ")
    assert "\r" not in subject and "\n" not in subject
    assert "= ?utf-8?" in subject and "victim" not in subject.replace("victim@evil", "")
    storage.dispose()


def test_subject_and_list_id_are_encoded_by_us() -> None:
    """A non-ASCII topic and subject come out as encoded words; nothing given is decoded."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Subject"] = "[déserteurs] =?utf-8?q?=0D=0ABcc:_x@evil.example?= " + "é" * 90
    message["List-Id"] = "storywatch déserteurs <d-serteurs.digest.example.org>"
    message.set_content("body")
    head = message.as_bytes().split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert re.search(r"^Subject: =\?utf-8\?b\?", head, re.M)
    assert re.search(r"^List-Id: =\?utf-8\?[bq]\?[^<]*\?=\s+<d-serteurs\.digest\.example\.org>\r$",
                     head, re.M)
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    assert header_names(message.as_bytes()).count("bcc") == 0


def test_one_bad_stored_address_does_not_stop_the_run(tmp_path: Path,
                                                      smtp: SmtpServer) -> None:
    """Addresses stored before `subscribers add` refused encoded words (written here
    directly): the run goes on, nobody is mailed at a decoded address, and the bad
    subscriber's items are "failed" with the reason, so they go out once it is fixed."""
    from sqlalchemy import select, update

    from storywatch.storage.notify import DigestDelivery, Subscriber

    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    store(storage, [{"key": "one", "source": "Harbour Times", "status": "followup",
                     "cluster": None, "hours": 1, "title": "A plain follow-up",
                     "text": "Nothing unusual happened here at all."}])
    bad = {"=?utf-8?q?a=2C_b=40evil.example?=@example.org": "ana@example.org",
           "=?utf-8?q?a=0D=0ABcc=3A_x=40evil.example?=@example.org": "bo@example.org"}
    with storage.session() as session:
        for address in ("ana@example.org", "bo@example.org", "zed@example.org"):
            add_subscription(session, address, support.TOPIC, Schedule.parse("immediate"),
                             support.BASE)
        for stored_as, placeholder in bad.items():
            session.execute(update(Subscriber).where(Subscriber.email == placeholder)
                            .values(email=stored_as))
    summary = send_due_digests(config, storage)
    assert (summary.sent, summary.failed) == (1, 2), summary
    (mail,) = smtp.sink.wait_for(1)
    assert mail.recipients == ["zed@example.org"]
    with storage.session() as session:
        rows = session.execute(select(DigestDelivery.state, DigestDelivery.error)).all()
    failed = [error for state, error in rows if state == "failed"]
    assert len(failed) == 2 and all("encoded word" in (e or "") for e in failed)
    # Fixed by hand: the next run sends the items that failed.
    with storage.session() as session:
        for stored_as, fixed in bad.items():
            session.execute(update(Subscriber).where(Subscriber.email == stored_as)
                            .values(email=fixed))
    again = send_due_digests(config, storage)
    assert (again.sent, again.failed) == (2, 0), again
    assert sorted(m.recipients[0] for m in smtp.sink.wait_for(3)[1:]) == [
        "ana@example.org", "bo@example.org"]
    storage.dispose()
