"""The daemon with [web] listen: the web app served from the daemon process itself, over
real HTTP on 127.0.0.1, and its "crawl now" button making a source run at once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storywatch.demo.server import FixtureServer
from storywatch.storage import open_storage
from tests.conftest import run_cli, wait_until
from tests.test_daemon import DaemonProcess, daemons, free_port, ok_runs, write_config
from tests.test_web_support import PASSWORD

__all__ = ["daemons"]


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("STORYWATCH_WEB_PASSWORD", PASSWORD)
    yield PASSWORD


def test_the_daemon_serves_the_web_app_and_crawls_a_source_on_request(
    world: FixtureServer, tmp_path: Path, daemons: list[DaemonProcess], password: str
) -> None:
    url = f"sqlite:///{tmp_path / 'storywatch.db'}"
    port = free_port()
    config = write_config(tmp_path / "storywatch.toml", url,
                          [("weekly", world.url("/feeds/world.rss"), "7d")],
                          daemon='jitter = "0.2s"\nbatch_window = "0s"')
    config.write_text(config.read_text() + f'\n[web]\nlisten = "127.0.0.1:{port}"\n')
    log = tmp_path / "daemon.log"
    daemon = DaemonProcess(config, log)
    daemons.append(daemon)
    daemon.started()
    storage = open_storage(url)
    wait_until(lambda: ok_runs(storage, "weekly"), "the first run of the new source", log=log)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        assert client.get("/sources").status_code == 303  # reading needs the login
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        assert client.post("/login", data={"password": password, "csrf_token": token[1]}
                           ).status_code == 303
        page = client.get("/sources").text
        assert "weekly" in page and "Crawl now" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        done = client.post("/sources/weekly/crawl", data={"csrf_token": token[1]})
        assert done.status_code == 303
        assert "will be crawled now" in client.get(done.headers["location"]).text
    wait_until(lambda: len(ok_runs(storage, "weekly")) >= 2, "the run asked for", log=log)
    code, _ = daemon.terminate(timeout=60)
    assert code == 0
    storage.dispose()


def test_the_daemon_refuses_a_web_app_nobody_could_log_in_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STORYWATCH_WEB_PASSWORD", raising=False)
    config = write_config(tmp_path / "storywatch.toml", f"sqlite:///{tmp_path / 'x.db'}",
                          [("s", "http://127.0.0.1:9/feed.xml", "1h")])
    config.write_text(config.read_text() + '\n[web]\nlisten = "127.0.0.1:9"\n')
    done = run_cli("run", config=config, timeout=120)
    assert done.code == 2
    assert "STORYWATCH_WEB_PASSWORD" in done.stderr and "web.listen" in done.stderr
    web = run_cli("web", config=config, timeout=120)
    assert web.code == 2 and "STORYWATCH_WEB_PASSWORD" in web.stderr
