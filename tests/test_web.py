"""The web app over a real store (SQLite and PostgreSQL), through real HTTP requests to
the app: pages, filters, search, paging, labels, the Atom feed, the API and its safety."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select

from storywatch.storage.models import Label
from tests.test_web_support import (
    NOW,
    PASSWORD,
    SCRIPT_TITLE,
    TOPIC,
    World,
    client_for,
    csrf_of,
    log_in,
    web_world,
)

__all__ = ["web_world"]
LIST = f"/topics/{TOPIC}/followups"


def titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="entry-title"><a href="/items/\d+">([^<]*)</a>', html)


def test_reading_needs_the_login_by_default(web_world: World) -> None:
    client = client_for(web_world)
    page = client.get(LIST)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert client.get(f"{LIST}.atom").status_code == 401
    assert client.get("/api/items", params={"topic": TOPIC}).status_code == 401
    log_in(client)
    assert client.get(LIST).status_code == 200


def test_a_feed_reader_may_read_with_basic_auth(web_world: World) -> None:
    client = client_for(web_world)
    assert client.get(f"{LIST}.atom", auth=("reader", PASSWORD)).status_code == 200
    assert client.get(f"{LIST}.atom", auth=("reader", "wrong")).status_code == 401


def test_topics_page_counts_and_a_chart_whose_days_filter_the_list(web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    page = client.get("/").text
    # 13 follow-ups (2 in one cluster), 1 duplicate, 1 off-topic
    assert "<strong>13</strong> follow-ups" in page
    assert "<strong>1</strong> duplicate" in page and "<strong>1</strong> off-topic" in page
    wanted = (NOW - timedelta(days=2, hours=1)).date().isoformat()
    link = f"{LIST}?since={wanted}&amp;until={wanted}"
    assert link in page, "the chart's bar of that day links to that day's follow-ups"
    listed = client.get(link.replace("&amp;", "&")).text
    assert titles(listed) == ["Port talks restart"] or titles(listed) == [
        "Talks resume at the port authority"]
    assert "Also reported by" in listed


def test_the_list_is_newest_first_one_entry_per_cluster_and_pages_by_key(
        web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    seen: list[str] = []
    url = LIST
    pages = 0
    while url:
        html = client.get(url).text
        seen += titles(html)
        pages += 1
        match = re.search(r'href="(\?[^"]*after=[^"]*)" rel="next"', html)
        url = LIST + match.group(1).replace("&amp;", "&") if match else ""
    assert pages == 3
    # 13 follow-ups, the two reports of cluster c1 as one entry: 12 entries, no repeats
    assert len(seen) == 12 and len(set(seen)) == 12
    assert seen[0] == SCRIPT_TITLE.replace("<", "&lt;").replace(">", "&gt;").replace(
        "'", "&#39;")
    assert seen[-1] == "Strike day 14: cranes idle"


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "duplicate"}, ["Dockers strike (rewrite)"]),
    ({"status": "offtopic"}, ["Harbour FC wins the derby"]),
    ({"language": "fr"}, ["Les dockers prolongent la grève"]),
    ({"source": "le-quai"}, ["Les dockers prolongent la grève"]),
    ({"q": "grève"}, ["Les dockers prolongent la grève"]),
    ({"q": "container vessels"}, ["A link that is a script"]),
    ({"q": "cranes idle", "since": str((NOW - timedelta(days=10)).date()),
      "until": str((NOW - timedelta(days=9)).date())},
     ["Strike day 9: cranes idle", "Strike day 10: cranes idle"]),
    ({"q": "nothing-like-this"}, []),
    ({"q": '" OR * NEAR( -'}, []),  # the index's query syntax is never passed through
])
def test_filters_and_full_text_search(web_world: World, params: dict[str, str],
                                      expected: list[str]) -> None:
    client = client_for(web_world)
    log_in(client)
    answer = client.get(LIST, params=params)
    assert answer.status_code == 200
    assert titles(answer.text) == expected


def test_a_bad_filter_is_a_clear_400(web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    assert "is not a date" in client.get(LIST, params={"since": "yesterday"}).text
    assert client.get(LIST, params={"status": "bogus"}).status_code == 400
    assert client.get(LIST, params={"after": "../../x"}).status_code == 400


def test_item_page_explains_and_a_label_is_stored_with_the_cli_function(
        web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    item_id = web_world.ids["football"]
    page = client.get(f"/items/{item_id}").text
    assert "Harbour FC wins the derby" in page and "decided by" in page
    assert "&lt;b&gt;bold&lt;/b&gt; claim" in page  # reasons are data, escaped
    done = client.post(f"/items/{item_id}/label", data={
        "topic": TOPIC, "status": "followup", "note": "a docker scored",
        "csrf_token": csrf_of(page)})
    assert done.status_code == 303
    with web_world.storage.session() as session:
        label = session.execute(select(Label).where(Label.item_id == item_id)).scalar_one()
    assert (label.topic, label.status, label.note) == (TOPIC, "followup", "a docker scored")
    after = client.get(done.headers["location"]).text
    assert "Your label was saved" in after and "overrides" in after
    listed = client.get(LIST).text
    assert "Harbour FC wins the derby" in listed, "the label counts over the judgement"


def test_scraped_html_and_script_links_are_never_live(web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    for url in (LIST, f"/items/{web_world.ids['vote']}", f"/items/{web_world.ids['js-link']}"):
        html = client.get(url).text
        assert "<script>" not in html and "alert('owned')" not in html
        assert 'href="javascript:' not in html
    item = client.get(f"/items/{web_world.ids['js-link']}").text
    assert '<span class="unlinked">javascript:alert(1)//x</span>' in item
    headers = client.get(LIST).headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_writes_need_the_login_and_a_valid_csrf_token(web_world: World) -> None:
    client = client_for(web_world)
    item_id = web_world.ids["vote"]
    form = {"topic": TOPIC, "status": "offtopic"}
    # no login at all
    token = csrf_of(client.get("/login").text)
    assert client.post(f"/items/{item_id}/label", data={**form, "csrf_token": token}
                       ).status_code == 401
    log_in(client)
    # logged in, but a forged token, and none
    assert client.post(f"/items/{item_id}/label",
                       data={**form, "csrf_token": "0" * 64}).status_code == 403
    assert client.post(f"/items/{item_id}/label", data=form).status_code == 403
    # another visitor's token is no good for this session
    other = client_for(web_world)
    assert client.post(f"/items/{item_id}/label", data={
        **form, "csrf_token": csrf_of(other.get("/login").text)}).status_code == 403
    # Basic credentials, which browsers replay by themselves, never allow a write
    anonymous = client_for(web_world)
    assert anonymous.post(f"/items/{item_id}/label", data=form,
                          auth=("x", PASSWORD)).status_code == 401
    assert anonymous.post("/api/items/1/label", json={"topic": TOPIC, "status": "offtopic"},
                          auth=("x", PASSWORD)).status_code in (401, 403)
    assert anonymous.post("/sources/quay-news/crawl", data={}).status_code == 401
    with web_world.storage.session() as session:
        assert session.execute(select(Label)).first() is None


def test_a_forged_session_cookie_and_a_wrong_password_log_nobody_in(web_world: World) -> None:
    client = client_for(web_world)
    client.cookies.set("storywatch_session", "eyJzaWQiOiJ4IiwiaW4iOnRydWV9.forged.sig")
    assert client.get(LIST).status_code == 303
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"password": "guess", "csrf_token": token})
    assert wrong.status_code == 401 and "not the password" in wrong.text
    assert client.get(LIST).status_code == 303


def test_without_a_password_in_the_environment_nobody_writes(web_world: World) -> None:
    client = client_for(web_world, password=None)
    token = csrf_of(client.get("/login").text)
    refused = client.post("/login", data={"password": "", "csrf_token": token})
    assert refused.status_code in (401, 422)
    assert "STORYWATCH_WEB_PASSWORD" in client.get("/login").text


def test_login_never_redirects_off_site(web_world: World) -> None:
    client = client_for(web_world)
    token = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"password": PASSWORD, "csrf_token": token,
                                       "next": "//evil.example/x"})
    assert done.headers["location"] == "/"


@pytest.mark.parametrize("path", [
    "/static/../storywatch.toml", "/static/%2e%2e/%2e%2e/config.py",
    "/static/..%2f..%2fconfig.py", "/topics/..%2F..%2Fetc%2Fpasswd/followups",
    "/topics/../../etc/passwd", "/items/..%2F1",
])
def test_paths_with_dot_dot_serve_nothing_outside(web_world: World, path: str) -> None:
    client = client_for(web_world)
    log_in(client)
    answer = client.get(path)
    assert answer.status_code in (400, 404, 422), (path, answer.status_code)
    assert "[storage]" not in answer.text and "import" not in answer.text


def test_the_atom_feed_is_valid_atom_with_the_newest_followups(web_world: World) -> None:
    client = client_for(web_world)
    answer = client.get(f"{LIST}.atom", headers={"Authorization": f"Bearer {PASSWORD}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert len(feed.entries) == 5  # [web] page_size
    first = feed.entries[0]
    assert first.title == SCRIPT_TITLE  # text, escaped in the XML, the same words back
    assert first.author == "quay-news"
    assert first.link == "https://quay-news.example/vote"
    published = NOW - timedelta(days=1, hours=1)
    assert first.published_parsed[:3] == (published.year, published.month, published.day)
    assert any("Also reported by harbour-daily" in e.summary or
               "Also reported by quay-news" in e.summary for e in feed.entries)
    links = [link.href for e in feed.entries for link in e.links]
    assert not any(href.startswith("javascript:") for href in links)


def test_json_api_items_explain_label_and_openapi(web_world: World) -> None:
    client = client_for(web_world)
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    listed = client.get("/api/items", params={"topic": TOPIC, "limit": 3}, headers=bearer).json()
    assert listed["items"][0]["title"] == SCRIPT_TITLE
    more = client.get("/api/items", params={"topic": TOPIC, "after": listed["next"]},
                      headers=bearer).json()
    assert not {i["id"] for i in listed["items"]} & {i["id"] for i in more["items"]}
    item_id = web_world.ids["copy"]
    item = client.get(f"/api/items/{item_id}", headers=bearer).json()
    assert item["text"].startswith("The dockers of the harbour")
    why = client.get(f"/api/items/{item_id}/explain", headers=bearer).json()
    assert why["judgements"][0]["judged"] == "duplicate"
    assert why["judgements"][0]["reasons"]["layer"] == "model"
    saved = client.post(f"/api/items/{item_id}/label", headers=bearer,
                        json={"topic": TOPIC, "status": "followup"})
    assert saved.status_code == 200 and saved.json()["status"] == "followup"
    why = client.get(f"/api/items/{item_id}/explain", headers=bearer).json()
    assert why["judgements"][0]["label"] == "followup"
    assert client.post(f"/api/items/{item_id}/label", headers=bearer,
                       json={"topic": TOPIC, "status": "maybe"}).status_code == 422
    assert client.get("/api/items/999999", headers=bearer).status_code == 404
    sources = client.get("/api/sources", headers=bearer).json()
    assert sources[0]["source"] == "quay-news" and sources[0]["last_run"] is None
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/items", "/api/items/{item_id}", "/api/items/{item_id}/explain",
                 "/api/items/{item_id}/label", "/api/sources", "/api/runs"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 404  # its page would load scripts from a CDN


def test_sources_page_and_crawl_now(web_world: World) -> None:
    from storywatch.storage.daemon import CrawlRun

    client = client_for(web_world)
    log_in(client)
    page = client.get("/sources").text
    assert "quay-news" in page and "never" in page
    with web_world.storage.session() as session:
        for n, (outcome, error) in enumerate([("ok", None), ("failed", "<b>HTTP 503</b>")]):
            session.add(CrawlRun(batch=f"b{n}", source="quay-news", outcome=outcome,
                                 started_at=NOW + timedelta(minutes=n),
                                 finished_at=NOW + timedelta(minutes=n, seconds=30),
                                 seen=12, new=3 + n, failed=0, requests=14 + n,
                                 bytes=2048 * (n + 1), error=error))
    page = client.get("/sources").text
    row = page[page.index("quay-news"):page.index("</tr>", page.index("quay-news"))]
    assert "failed" in row and "&lt;b&gt;HTTP 503&lt;/b&gt;" in row
    assert "1 failure in a row" in row and "4 / 12" in row and "15" in row and "4.0 KB" in row
    runs = client.get("/api/runs", headers={"Authorization": f"Bearer {PASSWORD}"}).json()
    assert [r["outcome"] for r in runs] == ["failed", "ok"]
    done = client.post("/sources/quay-news/crawl", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    assert client.app.state.crawls_started == ["quay-news"]  # type: ignore[attr-defined]
    assert "started quay-news" in client.get(done.headers["location"]).text
    assert client.post("/sources/nope/crawl",
                       data={"csrf_token": csrf_of(page)}).status_code == 404


def test_subscriptions_add_preview_remove(web_world: World) -> None:
    client = client_for(web_world)
    log_in(client)
    page = client.get("/subscriptions").text
    token = csrf_of(page)
    added = client.post("/subscriptions", data={
        "email": "ana@example.org", "topic": TOPIC, "every": "weekly", "at": "08:30",
        "tz": "Europe/Paris", "day": "friday", "csrf_token": token})
    assert added.status_code == 303
    page = client.get(added.headers["location"]).text
    assert "ana@example.org" in page and "weekly friday 08:30 Europe/Paris" in page
    bad = client.post("/subscriptions", data={"email": "not-an-address", "topic": TOPIC,
                                              "csrf_token": token})
    assert bad.status_code == 400
    preview = client.get("/subscriptions/preview", params={"topic": TOPIC})
    assert preview.status_code == 200 and "Talks resume" in preview.text
    assert "<script>alert" not in preview.text
    removed = client.post("/subscriptions/remove", data={
        "email": "ana@example.org", "topic": TOPIC, "csrf_token": token})
    assert "removed ana@example.org" in client.get(removed.headers["location"]).text


def test_unsubscribe_get_asks_post_unsubscribes_without_login(web_world: World) -> None:
    from storywatch.normalise.dates import utc_now
    from storywatch.notify.subscribers import Schedule, add_subscription, list_subscriptions
    from storywatch.notify.tokens import make_token, signing_secret

    with web_world.storage.session() as session:
        add_subscription(session, "bo@example.org", TOPIC, Schedule.parse(), utc_now())
        row = list_subscriptions(session)[0]
        token = make_token(signing_secret(session), row.email, TOPIC, row.created_at)
    client = client_for(web_world)
    asked = client.get("/unsubscribe", params={"token": token})
    assert asked.status_code == 200 and "Stop sending digests to bo@example.org" in asked.text
    with web_world.storage.session() as session:
        assert list_subscriptions(session)
    form = re.search(r'action="(/unsubscribe\?token=[^"]+)"', asked.text)
    assert form
    done = client.post(form.group(1).replace("&amp;", "&"))
    assert done.status_code == 200 and "Unsubscribed bo@example.org" in done.text
    with web_world.storage.session() as session:
        assert list_subscriptions(session) == []
    assert client.get("/unsubscribe", params={"token": "forged"}).status_code == 400


def test_public_read_lets_anyone_read_but_not_write(tmp_path: Path, database_url: str) -> None:
    from storywatch.config import load_config
    from storywatch.storage import open_storage
    from tests.test_web_support import fill, write_config

    config = load_config(write_config(tmp_path, database_url, read="public"))
    storage = open_storage(config.storage.url)
    try:
        world = World(config, storage, fill(storage))
        client = client_for(world)
        page = client.get(LIST)
        assert page.status_code == 200 and "Log in" in page.text
        assert client.post(f"/items/{world.ids['vote']}/label", data={
            "topic": TOPIC, "status": "offtopic", "csrf_token": csrf_of(client.get(
                "/login").text)}).status_code == 401
    finally:
        storage.dispose()


@pytest.mark.parametrize(("section", "problem"), [
    ('listen = "8080"', "web.listen"),
    ('read = "everyone"', "web.read"),
    ('password = "hunter2"', "web.password"),  # never from the config file
])
def test_a_bad_web_section_names_the_file_and_the_field(
        tmp_path: Path, section: str, problem: str) -> None:
    from storywatch.config import ConfigError, load_config

    path = tmp_path / "storywatch.toml"
    path.write_text(f"[web]\n{section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)
