"""Optional semantic similarity from a model that ships inside an installed package.

WordLlama (l2_supercat, 256 dimensions, numpy only, ~33 MB) ships its weights and its
tokenizer in the wheel; its own `WordLlama.load()` looks for the tokenizer in a folder
named `tokenizer/` while the wheel has `tokenizers/`, and then tries to download it, so
it is loaded here from the packaged files directly: no network, ever. Without the
package the classifier runs on lexical signals alone.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class SemanticModel:
    name = "wordllama-l2_supercat-256"

    def __init__(self, inference: Any) -> None:
        self._model = inference

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        vectors = np.asarray(self._model.embed(texts, norm=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms


@lru_cache(maxsize=1)
def load_semantic() -> SemanticModel | None:
    """The packaged model, or None when wordllama (or its packaged files) is missing."""
    try:
        import wordllama
        from safetensors import safe_open
        from wordllama import WordLlama
        from wordllama.inference import WordLlamaInference
    except ImportError:
        return None
    root = Path(wordllama.__file__).parent
    tokenizer_path = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
    weights_path = root / "weights" / "l2_supercat_256.safetensors"
    if not tokenizer_path.exists() or not weights_path.exists():
        log.warning("wordllama is installed without its packaged model; semantic layer off")
        return None
    tokenizer = WordLlama.load_tokenizer(tokenizer_path)
    with safe_open(str(weights_path), framework="np", device="cpu") as handle:
        embedding = handle.get_tensor("embedding.weight")
    return SemanticModel(WordLlamaInference(embedding, tokenizer, binary=False))
