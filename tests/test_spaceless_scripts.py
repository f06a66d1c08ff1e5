"""Chinese, Japanese, Thai and Korean: found, counted, extracted, compared, deduplicated.

The texts are in tests/data/cjk/, written for these tests; the site around them is
tests/spaceless_site.py, served on 127.0.0.1 and crawled by real Scrapy crawls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from storywatch.classify import near_copies
from storywatch.classify.text import analyse, anchors_of, skeleton, split_sentences, zipf
from storywatch.discovery.pages import MIN_ARTICLE_WORDS, analyse_page
from storywatch.extraction.article import extract_article
from storywatch.normalise.item import SHORT_TEXT_WORDS, normalise_article
from storywatch.normalise.segment import DENSE_WIDTH, TOKEN, prefix, word_count, words
from storywatch.storage import open_storage
from storywatch.storage.models import Item, Judgement
from tests.conftest import DATA, run_cli
from tests.spaceless_site import (
    ARTICLE_NAMES,
    EVENT_DATE,
    SIDEBAR,
    TEXTS,
    load_text,
    serve_site,
    site_pages,
)

BASE = "http://127.0.0.1:9"
PAGES = site_pages(BASE)
ARTICLES = [load_text(name) for name in ARTICLE_NAMES]


# -- segmentation --------------------------------------------------------------------------


def test_each_script_is_cut_into_words() -> None:
    zh = words("新加坡公用事业局周二宣布，将在大士兴建第六座海水淡化厂。")
    assert "新加坡" in zh and "宣布" in zh and len(zh) >= 8
    th = words("กรุงเทพมหานครประกาศเมื่อวันจันทร์ว่าจะเริ่มก่อสร้างอุโมงค์")
    assert "กรุงเทพมหานคร" in th and len(th) >= 6
    # Korean is spaced between phrases: its units are those phrases, as ICU also cuts it.
    assert words("서울시는 월요일 새로운 대책을 발표했다.") == [
        "서울시는", "월요일", "새로운", "대책을", "발표했다"]


def test_japanese_with_latin_names_and_numbers_keeps_them_as_words_in_order() -> None:
    sentence = "試験ではNorthwind Labsのエンジニア、Sarah Mitchell氏らが2025年に東京に常駐する。"
    tokens = words(sentence)
    for expected in ("Northwind", "Labs", "Sarah", "Mitchell", "2025", "東京"):
        assert expected in tokens, tokens
    assert tokens.index("Northwind") < tokens.index("Labs") < tokens.index("Sarah") \
        < tokens.index("2025") < tokens.index("東京")
    # The Latin names are anchors (language-free keys), the year and numbers too.
    anchors = anchors_of(sentence, "ja")
    assert {f"@{skeleton('Mitchell')}", f"@{skeleton('Northwind')}", "#2025"} <= anchors


def _spaced_texts() -> Iterator[str]:
    for name in ("followups", "offtopic", "rewrites"):
        for line in (DATA / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            yield json.loads(line)["text"]


def test_spaced_text_is_cut_counted_and_shingled_exactly_as_before() -> None:
    """Stored band keys and word counts of spaced text must not change (rensa is pinned for
    the same reason): the eval corpus (en, fr, de, ru) gives the old tokens, counts, keys."""
    texts = list(_spaced_texts())
    assert len(texts) > 100
    for text in texts:
        assert words(text) == TOKEN.findall(text)
        assert word_count(text) == len(text.split())
        old = [w.lower() for w in TOKEN.findall(text)]
        old_shingles = {" ".join(old[i:i + near_copies.SHINGLE])
                        for i in range(len(old) - near_copies.SHINGLE + 1)}
        assert near_copies.shingles(text) == old_shingles


def test_sentences_end_at_ideographic_stops_and_thai_spaces() -> None:
    assert split_sentences("当局周二宣布。新厂将在二〇二九年启用！你知道吗？还有一段") == [
        "当局周二宣布。", "新厂将在二〇二九年启用！", "你知道吗？", "还有一段"]
    # A quote closed after its stop belongs to the sentence; so does a quotative と.
    quoted = "知事は「必要な人に届けたい」と述べた。「本当か？」と記者が聞いた。"
    assert split_sentences(quoted) == [
        "知事は「必要な人に届けたい」と述べた。", "「本当か？」と記者が聞いた。"]
    assert split_sentences("กรุงเทพมหานครประกาศแผนใหม่ ชาวบ้านแสดงความกังวล") == [
        "กรุงเทพมหานครประกาศแผนใหม่", "ชาวบ้านแสดงความกังวล"]
    # Latin text keeps its own rules; mixed text gets both.
    assert split_sentences("東京都は発表した。Tanaka said it works. He left.") == [
        "東京都は発表した。", "Tanaka said it works.", "He left."]


def test_length_limits_count_a_dense_script_character_as_several_letters() -> None:
    """The lead and the gate's opening are an amount of text, not of characters: a Han,
    kana or Hangul character counts DENSE_WIDTH, so a Chinese lead costs the embedding
    about what an English one does; Thai and Latin text are cut as before."""
    from storywatch.classify.decide import GATE_CHARS, opening
    from storywatch.classify.features import DOC_CHARS, doc_text

    english = "The ministry confirmed the plan on Tuesday. " * 30
    assert prefix(english, 200) == english[:200]
    thai = load_text("th-article").body
    assert doc_text(None, thai) == thai[:DOC_CHARS]
    assert prefix("東京ab", 7) == "東京a"  # 3 + 3 + 1; the next letter would make 8
    assert prefix("東京ab", 100) == "東京ab"
    for name in ("zh-seed-a", "ja-article", "ko-article"):
        text = load_text(name).body
        lead = doc_text(None, text)
        assert len(lead) < len(text) and DOC_CHARS // DENSE_WIDTH <= len(lead) < DOC_CHARS
        assert text.startswith(lead)
        first = opening(None, text)
        assert lead.startswith(first) and len(first) <= GATE_CHARS // 2


def test_every_article_counts_enough_words_for_the_length_rules() -> None:
    for article in ARTICLES:
        assert len(article.body) >= 600, article.name  # the brief: >= 600 characters
        count = word_count(article.body)
        assert count >= max(MIN_ARTICLE_WORDS, SHORT_TEXT_WORDS) * 3, (article.name, count)
        assert len(article.body.split()) < count or article.language == "ko"


def test_chinese_and_japanese_word_frequencies_need_no_external_segmenter() -> None:
    """wordfreq cuts zh with jieba and ja/ko with MeCab, neither installed: it raised, and
    Chinese items were stored unjudged. Segmented words are looked up directly."""
    assert zipf("的", "zh") > 7 > zipf("新加坡", "zh") > 4
    assert zipf("東京", "ja") > 4
    assert zipf("서울", "ko") > 3
    assert zipf("กรุงเทพ", "th") == 0.0  # no Thai list: every word counts as rare
    analysed = analyse(load_text("zh-seed-a").body, "zh")
    assert {"海水", "淡化"} & set(analysed.terms) and "的" not in analysed.terms


# -- discovery and extraction ----------------------------------------------------------------


def _without_article_element(html: str) -> str:
    """The markup that made the old fallback chain keep the sidebar: no <article>, the
    body and the "most read" list in plain <div>s (issue 15)."""
    return (html.replace("<article>", '<div class="story">').replace("</article>", "</div>")
            .replace('<aside class="most-read">', '<div class="most-read">')
            .replace("</aside>", "</div>"))


@pytest.mark.parametrize("markup", ["article", "divs"])
@pytest.mark.parametrize("article", ARTICLES, ids=lambda a: a.name)
def test_article_pages_are_articles_and_their_body_is_extracted_whole(
        article: object, markup: str) -> None:
    text = article  # type: ignore[assignment]
    html = PAGES[text.path][1]  # type: ignore[attr-defined]
    if markup == "divs":
        html = _without_article_element(html)
        assert "<article" not in html and "<aside" not in html
    url = BASE + text.path  # type: ignore[attr-defined]
    analysis = analyse_page(html, url)
    assert analysis.is_article, analysis.reason
    extracted = extract_article(html, url)
    item = normalise_article(extracted, url=url, source="s", discovered_via="feed")
    assert item.language == text.language  # type: ignore[attr-defined]
    assert item.text == text.body  # type: ignore[attr-defined]
    assert not any(headline in item.text for _, headline in SIDEBAR)
    assert item.word_count == word_count(text.body)  # type: ignore[attr-defined]


def test_listing_and_section_pages_in_these_scripts_are_not_articles() -> None:
    for path in ("/", "/section/1/"):
        analysis = analyse_page(PAGES[path][1], BASE + path)
        assert not analysis.is_article, analysis.reason
        assert analysis.kind == "listing"
        assert set(analysis.article_links) == {BASE + a.path for a in ARTICLES}


# -- near copies ----------------------------------------------------------------------------


BYLINES = {"zh": "本报记者 王丽华 新加坡报道", "ja": "社会部 山本美咲",
           "th": "ผู้สื่อข่าว สมชาย ใจดี รายงาน", "ko": "김지훈 기자"}
CHANGED = {"zh": "当局没有透露具体细节，只表示相关部门会在下个月向国会提交一份详细的报告。",
           "ja": "関係者によると、具体的な日程はまだ決まっておらず、来月にも説明会を開く。",
           "th": "เจ้าหน้าที่ยังไม่เปิดเผยรายละเอียดเพิ่มเติม",
           "ko": "관계자는 구체적인 일정은 아직 정해지지 않았다고 말했다."}


def _index_hits(a: str, b: str) -> int:
    return len(set(near_copies.keys_of(a)) & set(near_copies.keys_of(b)))


@pytest.mark.parametrize("name", ["zh-seed-a", "ja-article", "th-article", "ko-article"])
def test_a_lightly_edited_copy_is_a_near_copy_in_every_script(name: str) -> None:
    original = load_text(name)
    sentences = split_sentences(original.body)
    # A byline added, the third sentence replaced, and a word cut from every other one.
    edited = original.body.replace(sentences[2], CHANGED[original.language], 1)
    for sentence in sentences[1::2]:
        tokens = words(sentence)
        if len(tokens) >= 3:
            edited = edited.replace(sentence, sentence.replace(tokens[len(tokens) // 2], "", 1))
    edited = f"{BYLINES[original.language]}\n{edited}"
    assert edited != original.body
    match = near_copies.compare(near_copies.shingles(edited), near_copies.shingles(original.body))
    assert match.is_copy, match
    assert _index_hits(edited, original.body) >= near_copies.MIN_BAND_HITS


def test_different_chinese_reports_of_one_story_are_not_near_copies() -> None:
    texts = {name: load_text(name).body for name in
             ("zh-seed-a", "zh-seed-b", "zh-rewrite", "zh-followup")}
    for a in texts:
        for b in texts:
            if a < b:
                match = near_copies.compare(near_copies.shingles(texts[a]),
                                            near_copies.shingles(texts[b]))
                assert not match.is_copy, (a, b, match)


def test_band_index_finds_a_stored_chinese_copy(tmp_path: Path) -> None:
    from storywatch.normalise.dates import utc_now
    from storywatch.normalise.text import content_hash

    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    original = load_text("zh-seed-a").body
    with storage.session() as session:
        ids = []
        for n, text in enumerate((original, load_text("zh-seed-b").body)):
            item = Item(canonical_url=f"https://zh.example/{n}", url=f"https://zh.example/{n}",
                        title=None, authors=[], published_at=None, fetched_at=utc_now(),
                        language="zh", text=text, source="t", discovered_via="feed",
                        content_hash=content_hash(text), word_count=word_count(text),
                        extractor="t")
            session.add(item)
            session.flush()
            near_copies.index_item(session, item.id, near_copies.keys_of(text))
            ids.append(item.id)
    copy = f"{BYLINES['zh']}\n" + original.replace("周二", "周三").replace("约九亿", "九亿多")
    with storage.session() as session:
        found = near_copies.find_stored_copies(session, near_copies.shingles(copy),
                                               near_copies.keys_of(copy))
    assert [c.item_id for c in found] == [ids[0]]
    storage.dispose()


# -- crawls: a site source and a feed, stored whole and judged ------------------------------


def _config(tmp_path: Path, base_url: str, database_url: str, kind: str) -> Path:
    seeds = ", ".join(json.dumps(str(TEXTS / f"{name}.txt")) for name in ("zh-seed-a",
                                                                          "zh-seed-b"))
    source = {"site": ('kind = "site"', f"url = {json.dumps(base_url + '/')}", "depth = 1",
                       "max_pages = 2"),
              "feed": ('kind = "feed"', f"url = {json.dumps(base_url + '/feed.xml')}")}[kind]
    path = tmp_path / "storywatch.toml"
    path.write_text("\n".join([
        "[storage]", f"url = {json.dumps(database_url)}", "",
        "[crawl]", "allow_private_networks = true  # the site is on loopback",
        "autothrottle = false", "",
        "[[topics]]", 'name = "desalination"', f"seeds = [{seeds}]",
        f'event_date = "{EVENT_DATE}"', "",
        "[[sources]]", 'name = "asia-daily"', *source,
    ]) + "\n", encoding="utf-8")
    return path


def _stored(database_url: str) -> tuple[dict[str, Item], dict[str, str]]:
    storage = open_storage(database_url)
    with storage.session() as session:
        items = {i.canonical_url: i for i in session.execute(select(Item)).scalars()}
        for item in items.values():
            session.expunge(item)
        statuses = {url: status for url, status in session.execute(
            select(Item.canonical_url, Judgement.status).join(Judgement,
                                                              Judgement.item_id == Item.id))}
    storage.dispose()
    return items, statuses


def _check_crawl(base_url: str, database_url: str) -> None:
    items, statuses = _stored(database_url)
    assert set(items) == {base_url + a.path for a in ARTICLES}, sorted(items)
    for article in ARTICLES:
        item = items[base_url + article.path]
        assert item.language == article.language, article.name
        assert item.text == article.body, article.name
        assert item.word_count == word_count(article.body)
    # Judged, not stored unjudged: the Chinese rewrite of the seeds and the follow-up a
    # year later told apart; the other scripts' articles are about other stories.
    by_name = {a.name: statuses.get(base_url + a.path) for a in ARTICLES}
    assert by_name == {"zh-followup": "followup", "zh-rewrite": "duplicate",
                       "ja-article": "offtopic", "th-article": "offtopic",
                       "ko-article": "offtopic"}


def test_site_source_stores_every_article_whole_and_skips_listings(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'sw.db'}"
    with serve_site() as base_url:
        result = run_cli("crawl", config=_config(tmp_path, base_url, database_url, "site"))
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
    assert f"{len(ARTICLES)} new" in result.stdout, result.stdout
    _check_crawl(base_url, database_url)


def test_feed_source_stores_and_judges_every_article(tmp_path: Path, database_url: str) -> None:
    with serve_site() as base_url:
        result = run_cli("crawl", config=_config(tmp_path, base_url, database_url, "feed"))
        assert result.code == 0, result.stderr
    assert f"{len(ARTICLES)} new" in result.stdout, result.stdout
    _check_crawl(base_url, database_url)


def test_rescore_replaces_band_keys_stored_before_segmentation(tmp_path: Path) -> None:
    """A Chinese item indexed with the old keys (one token per run between spaces) gets
    the segmented keys from `rescore`, and a light copy of it is found afterwards."""
    import datetime as dt

    from storywatch.classify.service import Classifier
    from storywatch.config import Config, TopicConfig
    from storywatch.normalise.dates import utc_now
    from storywatch.normalise.text import content_hash
    from storywatch.storage.classify import NearCopyBand

    storage = open_storage(f"sqlite:///{tmp_path / 'sw.db'}")
    text = load_text("zh-rewrite").body
    old_tokens = [w.lower() for w in TOKEN.findall(text)]
    old_keys = near_copies.band_keys(near_copies.signature(
        {" ".join(old_tokens[i:i + near_copies.SHINGLE])
         for i in range(len(old_tokens) - near_copies.SHINGLE + 1)}))
    assert set(old_keys) != set(near_copies.keys_of(text))
    with storage.session() as session:
        item = Item(canonical_url="https://zh.example/old", url="https://zh.example/old",
                    title=None, authors=[], published_at=dt.datetime(2025, 11, 18, tzinfo=dt.UTC),
                    fetched_at=utc_now(), language="zh", text=text, source="t",
                    discovered_via="feed", content_hash=content_hash(text),
                    word_count=len(text.split()), extractor="t")
        session.add(item)
        session.flush()
        item_id = item.id
        near_copies.index_item(session, item_id, old_keys)
    seeds = [str(TEXTS / "zh-seed-a.txt"), str(TEXTS / "zh-seed-b.txt")]
    config = Config(topics=[TopicConfig(name="desalination", seeds=seeds,
                                        event_date=dt.date(2025, 11, 18))])
    assert Classifier(config).rescore(storage) == 1
    copy = "本报记者 王丽华\n" + text.replace("周二", "周三", 1)
    with storage.session() as session:
        keys = set(session.execute(select(NearCopyBand.band_key)
                                   .where(NearCopyBand.item_id == item_id)).scalars())
        assert keys == set(near_copies.keys_of(text))
        found = near_copies.find_stored_copies(session, near_copies.shingles(copy),
                                               near_copies.keys_of(copy))
        assert [c.item_id for c in found] == [item_id]
        status = session.execute(select(Judgement.status)
                                 .where(Judgement.item_id == item_id)).scalar_one()
        assert status == "duplicate"
    storage.dispose()
