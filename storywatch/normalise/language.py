"""Language: ISO 639-1 codes, from the page's own declaration checked against its text."""

from __future__ import annotations

import sys

# Below this many characters the statistical guess is noise; trust the declaration.
_MIN_TEXT_FOR_DETECTION = 200
# py3langid's cost is linear in the text; 1,500 characters (a few paragraphs) decide as
# well as the whole article and cost ~0.5 ms instead of ~2 ms (measured on benchmark pages).
_DETECTION_SAMPLE = 1500


def detect_language(text: str, declared: str | None = None) -> str | None:
    """Pages often declare a site-wide `lang` that is wrong for a translated article, so the
    text decides when there is enough of it; the declaration breaks ties on short texts."""
    declared_code = declared.strip().lower().replace("_", "-").split("-")[0] if declared else None
    if declared_code is not None and len(declared_code) != 2:
        declared_code = None
    import py3langid  # loads its model (~0.1 s): only when a text is classified

    if len(text) < _MIN_TEXT_FOR_DETECTION:
        return declared_code or (py3langid.classify(text)[0] if text.strip() else None)
    return str(py3langid.classify(text[:_DETECTION_SAMPLE])[0])


def model_loaded() -> bool:
    """Whether this process holds py3langid's model: it loads on first use."""
    langid = sys.modules.get("py3langid.langid")
    # py3langid (0.3, 0.4) keeps its model in the module global IDENTIFIER (None until used).
    return getattr(langid, "IDENTIFIER", None) is not None


def load_model() -> None:
    """Load py3langid's model now (74 MB of arrays, 0.5 s), in a process that forks the
    ones that will detect: they then share its pages instead of each unpacking a copy of
    its own on their first article."""
    detect_language("news " * 60)  # long enough to be classified: the model loads
