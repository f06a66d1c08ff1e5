"""The sources and languages offered in the list's filter menus, kept for a few minutes.

Finding them reads every item of the topic (~0.4 s at 100,000 items on SQLite: no index
covers topic and language), which a page that must answer in 150 ms cannot pay each time.
A source or language new since then shows up in the menus at most CHOICES_SECONDS later;
typing it into the URL works at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from storywatch.storage import Storage
from storywatch.storage.browse import topic_languages, topic_sources

CHOICES_SECONDS = 300.0


@dataclass
class FilterChoices:
    storage: Storage
    _kept: dict[str, tuple[float, list[str], list[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, topic: str) -> tuple[list[str], list[str]]:
        """(sources, languages) of the topic's items."""
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(topic)
        if kept is not None and kept[0] > now:
            return kept[1], kept[2]
        with self.storage.session() as session:
            sources, languages = topic_sources(session, topic), topic_languages(session, topic)
        with self._lock:
            self._kept[topic] = (now + CHOICES_SECONDS, sources, languages)
        return sources, languages
