"""The validators table and the pure helpers of the politeness middlewares."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from storywatch.config import ConfigError, load_config
from storywatch.spiders.politeness import forbidden_address, retry_after_seconds
from storywatch.storage import open_storage
from storywatch.storage.validators import Validators, load_validators, save_validators

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_validators_upsert_on_both_backends(database_url: str) -> None:
    storage = open_storage(database_url)
    assert "http_validators" in inspect(storage.engine).get_table_names()
    url = "https://news.test/sitemap_index.xml"
    with storage.session() as session:
        assert load_validators(session, url) is None
        save_validators(session, url, Validators('"v1"', None, ["https://news.test/a.xml"]), NOW)
    with storage.session() as session:
        save_validators(session, url, Validators('"v2"', "Sat, 01 Mar 2025 00:00:00 GMT"),
                        NOW + timedelta(hours=1))
    with storage.session() as session:
        loaded = load_validators(session, url)
    assert loaded == Validators('"v2"', "Sat, 01 Mar 2025 00:00:00 GMT", [])
    storage.dispose()


@pytest.mark.parametrize(("address", "forbidden"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("10.0.0.1", True), ("172.16.5.4", True),
    ("192.168.1.1", True), ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True),
    ("::1", True), ("fe80::1", True), ("fd00:ec2::254", True), ("::ffff:10.0.0.1", True),
    ("2002:7f00:1::", True), ("224.0.0.1", True),
    ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False),
    # IPv4-compatible, NAT64, IPv4-translated and site-local forms (issue 11).
    ("::127.0.0.1", True), ("::10.0.0.1", True), ("::8.8.8.8", True),
    ("64:ff9b::127.0.0.1", True), ("64:ff9b::a9fe:a9fe", True), ("64:ff9b::10.1.2.3", True),
    ("64:ff9b:1::a00:1", True), ("64:ff9b::8.8.8.8", False),
    ("::ffff:0:127.0.0.1", True), ("::ffff:0:8.8.8.8", True),
    ("fec0::1", True), ("fefe::1", True), ("2001:4860:4860::8888", False),
])
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_retry_after_forms() -> None:
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Thu, 15 Jan 2026 12:00:30 GMT", now=NOW) == 30
    assert retry_after_seconds("Thu, 15 Jan 2026 11:00:00 GMT", now=NOW) == 0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None


def test_allowed_hosts_must_be_host_and_port(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.toml"
    path.write_text('[crawl]\nallowed_hosts = ["127.0.0.1:8080", "[::1]:81"]\n')
    assert load_config(path).crawl.allowed_hosts == ["127.0.0.1:8080", "[::1]:81"]
    path.write_text('[crawl]\nallowed_hosts = ["localhost"]\n')
    with pytest.raises(ConfigError, match=r"crawl\.allowed_hosts: 'localhost' is not HOST:PORT"):
        load_config(path)
