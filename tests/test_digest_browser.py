"""A received digest opened in real headless Chromium: what a reader's browser-based mail
client would show. Keeps screenshots in test-artifacts/ for a human look."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from storywatch.config import load_config
from storywatch.normalise.dates import utc_now
from storywatch.notify import send_due_digests
from storywatch.notify.subscribers import Schedule, add_subscription
from storywatch.storage import open_storage
from tests import test_notify_support as support
from tests.conftest import CHROMIUM, NEEDS_CHROMIUM, REPO
from tests.test_notify_support import TOPIC, SmtpServer, store, write_config

smtp_session = support.smtp_session
smtp = support.smtp

pytestmark = NEEDS_CHROMIUM
ARTIFACTS = REPO / "test-artifacts"
# Generous: a cold Chromium start on a loaded CI machine takes several seconds.
CHROMIUM_TIMEOUT = 90


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.fixture
def received_html(tmp_path: Path, smtp: SmtpServer) -> Path:
    """The HTML part of a digest as it arrived through SMTP, written to a file."""
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    config = load_config(write_config(tmp_path, database_url, smtp))
    storage = open_storage(database_url)
    store(storage)
    with storage.session() as session:
        add_subscription(session, "ana@example.org", TOPIC,
                         Schedule.parse("immediate", tz="Europe/Paris"), utc_now())
    assert send_due_digests(config, storage).sent == 1
    storage.dispose()
    (mail,) = smtp.sink.wait_for(1)
    html_part = mail.message.get_body(("html",))
    assert html_part is not None
    path = tmp_path / "digest.html"
    path.write_text(html_part.get_content(), encoding="utf-8")
    return path


def test_digest_dom_in_chromium_has_the_titles_and_no_script(
    tmp_path: Path, received_html: Path
) -> None:
    done = chromium(tmp_path, "--dump-dom", received_html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for title in ("France lets in six Russian deserters on short-term visas",
                  "Volunteer network hopes other European states will follow France",
                  "Deserters &lt;script&gt;alert('x')&lt;/script&gt; Bcc: victim@evil.example"):
        assert title in dom
    assert "Also reported by" in dom and "Northern Ledger" in dom
    assert "<script" not in dom and "<img" not in dom
    assert "COPY France" not in dom and "sabotage" not in dom


@pytest.mark.parametrize(("name", "width"), [("digest.png", 1000), ("digest-narrow.png", 390)])
def test_digest_screenshot_is_kept_as_an_artifact(tmp_path: Path, received_html: Path,
                                                  name: str, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    done = chromium(tmp_path, f"--screenshot={target}", f"--window-size={width},1400",
                    "--hide-scrollbars", received_html.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert target.exists(), done.stderr[-2000:]
    assert png_size(target) == (width, 1400)
    # A blank page compresses to a few kilobytes; rendered text does not.
    assert target.stat().st_size > 20_000
