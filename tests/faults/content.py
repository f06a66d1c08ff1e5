"""Prose and documents for the fault server, written for these tests.

The good articles are short reports from an invented river town, long enough (well over
the extractor's 40-word floor) to be stored, and each one distinct, so that a lost or
duplicated article shows up in the counts.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

_TOPICS = (
    ("ferry", "The river ferry at Lindholm resumed its winter timetable"),
    ("library", "Lindholm's public library extended its evening opening hours"),
    ("bridge", "Engineers finished the load test of the old iron bridge"),
    ("market", "The Saturday market moved to the square by the town hall"),
    ("school", "A second primary school opened its doors in the northern district"),
    ("orchard", "Volunteers replanted the community orchard after the spring flood"),
    ("tram", "The council approved a study of a tram line to the harbour"),
    ("choir", "The harbour choir raised funds for a new rehearsal room"),
)

_PARAGRAPHS = (
    "Residents had waited for the decision since the summer, when the first plans were "
    "shown at a crowded meeting in the community hall. Several speakers asked how the "
    "work would be paid for and who would look after it in the years to come.",
    "The deputy mayor said the budget had been agreed with the regional office and that "
    "the costs were shared between the town, two local firms and a charitable trust set "
    "up by a retired schoolteacher who grew up on the riverbank.",
    "Shop owners on the main street welcomed the news but warned that deliveries must not "
    "be blocked during the busy weeks before the holidays. A timetable of the works will "
    "be published on the notice board outside the post office.",
    "Asked about the weather, the site manager laughed and said the team had learnt to "
    "plan for rain in every season. The next public update is expected at the end of the "
    "month, together with photographs of the progress made.",
)


def good_article_title(n: int) -> str:
    _slug, headline = _TOPICS[n % len(_TOPICS)]
    return f"{headline} (report {n})"


def good_article_html(n: int) -> str:
    """Article number n: its own headline, the shared body in a rotated order, its number."""
    paragraphs = [_PARAGRAPHS[(n + i) % len(_PARAGRAPHS)] for i in range(len(_PARAGRAPHS))]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    title = escape(good_article_title(n))
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title></head><body><header><nav><a href=\"/\">Lindholm Post</a>"
        f"</nav></header><article><h1>{title}</h1>"
        f"<p>Report number {n} from our correspondent in Lindholm.</p>{body}"
        "</article><footer>© Lindholm Post</footer></body></html>"
    )


def rss(title: str, links: list[tuple[str, str]]) -> bytes:
    """An RSS 2.0 document listing (title, absolute link) pairs."""
    items = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid></item>"
        for t, link in links
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>{escape(title)}</description>{items}</channel></rss>"
    ).encode()


def billion_laughs_rss(link: str) -> bytes:
    """Ten levels of ten-fold entity nesting: 10**9 'lol's if a parser expands them."""
    levels = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        ref = f"&lol{i - 1};" * 10
        levels.append(f'<!ENTITY lol{i} "{ref}">')
    dtd = "".join(levels)
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{dtd}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><link>http://127.0.0.1/</link><description>x</description>"
        f"<item><title>Laughs &lol9;</title><link>{escape(link)}</link>"
        "<description>&lol9;</description></item></channel></rss>"
    ).encode()


def xxe_rss(secret_path: str, link: str) -> bytes:
    """An external entity pointing at a local file, used in the feed title and entry."""
    return (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM '
        f'"file://{secret_path}">]><rss version="2.0"><channel><title>Feed &xxe;</title>'
        "<link>http://127.0.0.1/</link><description>&xxe;</description>"
        f"<item><title>Entry &xxe;</title><link>{escape(link)}</link>"
        "<description>Summary &xxe;</description><author>&xxe;</author></item>"
        "</channel></rss>"
    ).encode()


def many_links_html(count: int) -> str:
    # Short links keep 100,000 of them (about 2.5 MB) under the 5 MB page limit, so the
    # page reaches the extractor instead of failing on size.
    links = "".join(f'<a href="/l/{i}">{i}</a> ' for i in range(count))
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Every link we have</title>"
        f"</head><body><h1>Index</h1><p>{links}</p></body></html>"
    )


def calendar_html(page: int) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Events calendar</title>"
        f"</head><body><h1>Events, page {page}</h1><p>No events on this day.</p>"
        f'<a href="/calendar?page={page + 1}">Next day</a></body></html>'
    )
