"""The demo topic and sources, pointed at a running FixtureServer."""

from __future__ import annotations

from urllib.parse import urlsplit

from storywatch.demo.world import seed_paths

DEMO_FEEDS = {
    "world-rss": "/feeds/world.rss",
    "europe-rdf": "/feeds/europe.rdf",
    "all-atom": "/feeds/all.atom",
    "broken-feed": "/feeds/broken.rss",
    "html-as-feed": "/feeds/html.rss",
    "empty-feed": "/feeds/empty.rss",
}

# The other two discovery methods on the same world. The site root makes the sitemap spider
# read robots.txt's Sitemap: line; the default 7-day max_age keeps the news sitemap's fresh
# entries and skips its stale ones (11 and 15 days old) and the old pages.xml entries.
DEMO_DISCOVERY = {
    "courier-sitemaps": ("sitemap", "/", []),
    "courier-homepage": ("site", "/", ["max_pages = 3", "depth = 1"]),
}


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def demo_config_toml(
    base_url: str,
    storage_url: str,
    feeds: dict[str, str] | None = None,
    discovery: dict[str, tuple[str, str, list[str]]] | None = None,
) -> str:
    """A complete config for the demo world: the same file format users write.

    Tests use it too, with another storage URL or a subset of the feeds; `discovery={}`
    leaves out the sitemap and site sources (feeds only).
    """
    seeds = ", ".join(_toml_string(str(path)) for path in seed_paths())
    lines = [
        "# Written by `storywatch demo`: the demo news world served on 127.0.0.1.",
        "[storage]",
        f"url = {_toml_string(storage_url)}",
        "",
        "[crawl]",
        'user_agent = "storywatch-demo/0.1 (+https://github.com/storywatch/storywatch)"',
        "# The private-network guard stays on; only the demo world's own address is exempt.",
        f"allowed_hosts = [{_toml_string(urlsplit(base_url).netloc)}]",
        "autothrottle = false           # a local server needs no throttling",
        "concurrency_per_domain = 8",
        "",
        "[[topics]]",
        'name = "deserters"',
        'description = "Russian army deserters given refuge in France and elsewhere"',
        f"seeds = [{seeds}]",

    ]
    for name, path in (DEMO_FEEDS if feeds is None else feeds).items():
        lines += ["", "[[sources]]", f'name = "{name}"', 'kind = "feed"',
                  f"url = {_toml_string(base_url + path)}", 'every = "30m"']
    for name, (kind, path, extra) in (DEMO_DISCOVERY if discovery is None else discovery).items():
        lines += ["", "[[sources]]", f'name = "{name}"', f'kind = "{kind}"',
                  f"url = {_toml_string(base_url + path)}", 'every = "30m"', *extra]
    return "\n".join(lines) + "\n"
