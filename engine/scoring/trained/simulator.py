"""The ``trained`` simulator: frozen MiniLM features, small heads trained on synthetic neurons.

The heads ship in this package (``head.pt``, built by ``neuronquest simulator train``): an
ensemble of heads fitted from different seeds, whose predictions are averaged (one head's
held-out figures swung widely from seed to seed). The version names the file's content
hash, so a retrained head is a new version and the rescoring sweep scores every
explanation again under it (old scores keep theirs).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from engine.records import ActivationRecord
from engine.scoring.simulator import Predictions, Simulator, SimulatorError, token_texts
from engine.scoring.trained import fused, grid
from engine.scoring.trained.features import FeatureEncoder
from engine.scoring.trained.head import Head
from engine.scoring.trained.inputs import (
    ExplanationInput,
    Explanations,
    RecordInput,
    Records,
    explanation_inputs,
    pad,
    record_input,
)

# 4: an ensemble of heads, predictions averaged; 5: blended with embedding's prediction
VERSION = "trained-5"
# The share of `embedding`'s own prediction in the final one (session 9): chosen after training,
# on VALIDATION neurons (149, every family), by the rule training chooses epochs with (mean
# AUROC over families + 0.25 x true sense beats the other sense): 0 gave 1.114, 0.1-0.3 a
# plateau of 1.147-1.153 (0.25 and 0.3 tied at its top, the smaller taken), 0.35 and up lost
# sense pairs (1.143, 1.134). The heads themselves are chosen without it (``embedding_share=0``
# in training's validation), so the one command still writes the same head file.
EMBEDDING_SHARE = 0.25
SHIPPED_HEAD = Path(__file__).with_name("head.pt")
RECORD_CACHE_MAX = 512  # records' explanation-independent inputs (a 64-token record: ~0.7 MB)
EXPLANATION_CACHE_MAX = 2048
WORD_CACHE_MAX = 50_000
# Padded record batches: a neuron's explanations arrive one call at a time on the same records,
# and padding its records again for every call was a fifth of a warm call's time.
BATCH_CACHE_MAX = 8  # words alone (384 floats each), as ``embedding`` keeps them


def load_head(path: Path = SHIPPED_HEAD) -> tuple[list[Head], str, dict[str, Any]]:
    """(the ensemble's heads in eval mode, short content hash, training metadata)."""
    if not path.is_file():
        raise SimulatorError(f"no trained head at {path}; build one with `neuronquest simulator train`")
    blob = path.read_bytes()
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if "states" not in checkpoint:  # one head of an earlier version
        raise SimulatorError(f"{path} is not a {VERSION} head; rebuild it with `neuronquest simulator train`")
    heads = []
    for state in checkpoint["states"]:
        head = Head(**checkpoint["config"])
        try:
            head.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:  # a head of an earlier design
            raise SimulatorError(
                f"{path} is not a {VERSION} head; rebuild it with `neuronquest simulator train`"
            ) from exc
        heads.append(head.eval())
    return heads, hashlib.sha256(blob).hexdigest()[:10], checkpoint.get("meta", {})


def record_words(tokens: Sequence[str]) -> list[str]:
    return [t.strip().lower() for t in token_texts(list(tokens))]


class TrainedSimulator(Simulator):
    name = "trained"

    def __init__(
        self,
        head_path: Path | None = None,
        device: str = "cpu",
        *,
        heads: Sequence[Head] | None = None,
        encoder: FeatureEncoder | None = None,
        words: dict[str, torch.Tensor] | None = None,
        embedding_share: float = EMBEDDING_SHARE,
        fused_heads: bool = True,
    ) -> None:
        if heads is None:
            heads, digest, self.meta = load_head(head_path or SHIPPED_HEAD)
        else:  # heads being trained: scored under a provisional version
            digest, self.meta = "unsaved", {}
        self.heads = list(heads)
        self.encoder = encoder or FeatureEncoder(device)
        self.version = f"{VERSION}:{digest}"
        self.embedding_share = embedding_share
        # Scoring runs the heads' pair halves as one (``fused``, the same up to float rounding);
        # training's validation keeps ``grid.ensemble``, so its epoch choice stays bit for bit.
        self._stack = fused.stack(self.heads) if fused_heads else None
        self._words: dict[str, torch.Tensor] = words if words is not None else {}
        self._records: OrderedDict[tuple[str, ...], tuple[RecordInput, torch.Tensor, torch.Tensor]] = (
            OrderedDict()
        )
        self._explanations: OrderedDict[str, ExplanationInput] = OrderedDict()
        self._batches: OrderedDict[tuple[tuple[str, ...], ...], grid.Packed] = OrderedDict()

    def word_vectors(self, words: Sequence[str]) -> torch.Tensor:
        missing = sorted({w for w in words if w not in self._words})
        if missing:
            if len(self._words) + len(missing) > WORD_CACHE_MAX:
                self._words.clear()  # an open vocabulary: stay bounded
            self._words.update(zip(missing, self.encoder.words(missing), strict=True))
        return torch.stack([self._words[w] for w in words]).float()

    @torch.inference_mode()
    def remember_records(self, tokens: Sequence[Sequence[str]], features: Sequence[torch.Tensor]) -> None:
        """Raw features computed elsewhere (training caches them for every sentence)."""
        self._store([tuple(t) for t in tokens], list(features))

    def remember_explanations(
        self, texts: Sequence[str], features: Sequence[torch.Tensor], piece_words: Sequence[list[str]]
    ) -> None:
        for item in explanation_inputs(texts, features, piece_words):
            self._explanations[item.text] = item

    def forget(self) -> None:
        self._records.clear()
        self._explanations.clear()
        self._batches.clear()

    def _batch(self, records: Sequence[ActivationRecord]) -> tuple[list[int], grid.Packed | None]:
        """(indices of the records with tokens, their packed inputs for the grid path)."""
        key = tuple(tuple(r.tokens) for r in records)
        kept = [i for i, k in enumerate(key) if k]
        if key in self._batches:
            self._batches.move_to_end(key)
            return kept, self._batches[key]
        rows = [x for x in self._prepared(records) if x is not None]  # a record with tokens has one
        if not rows:
            return kept, None
        batch = Records.of([r[0] for r in rows])
        packed = grid.pack(batch, (pad([r[1] for r in rows])[0], pad([r[2] for r in rows])[0]))
        self._batches[key] = packed
        while len(self._batches) > BATCH_CACHE_MAX:
            self._batches.popitem(last=False)
        return kept, packed

    def _store(self, keys: list[tuple[str, ...]], features: list[torch.Tensor]) -> None:
        words = [record_words(key) for key in keys]
        # Every new word of every record in one batched pass (as `embedding` does), not a small
        # pass per record: that was more than half of a cold call.
        if any(words):
            self.word_vectors([w for group in words for w in group])
        items = [
            record_input(group, key, feats, self.word_vectors(group))
            for key, feats, group in zip(keys, features, words, strict=True)
        ]
        for start in range(0, len(items), 64):
            chunk = items[start : start + 64]
            # Every member's record half, side by side on the last axis (one cache entry).
            batch = Records.of(chunk)
            halves = [head.encode(batch) for head in self.heads]
            base = torch.cat([h[0] for h in halves], dim=-1)
            query = torch.cat([h[1] for h in halves], dim=-1)
            for row, item in enumerate(chunk):
                n = len(item.words)
                self._records[keys[start + row]] = (item, base[row, :n], query[row, :n])

    @torch.inference_mode()
    def _prepared(
        self, records: Sequence[ActivationRecord]
    ) -> list[tuple[RecordInput, torch.Tensor, torch.Tensor] | None]:
        keys = [tuple(r.tokens) for r in records]
        missing = list(dict.fromkeys(k for k in keys if k not in self._records and k))
        if missing:
            self._store(missing, self.encoder.records(missing))
        out = []
        for key in keys:
            if key:
                self._records.move_to_end(key)
            out.append(self._records.get(key))
        while len(self._records) > RECORD_CACHE_MAX:
            self._records.popitem(last=False)
        return out

    def _explained(self, texts: Sequence[str]) -> list[ExplanationInput]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._explanations))
        if missing:
            self.remember_explanations(missing, *self.encoder.explain(missing))
        out = []
        for text in texts:
            self._explanations.move_to_end(text)
            out.append(self._explanations[text])
        while len(self._explanations) > EXPLANATION_CACHE_MAX:
            self._explanations.popitem(last=False)
        return out

    @torch.inference_mode()
    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        if not explanations:
            return []
        kept, packed = self._batch(records)
        out: list[Predictions] = [[[] for _ in records] for _ in explanations]
        if packed is None:
            return out
        expl = Explanations.of(self._explained(explanations))
        # Every (explanation, record) pair in one pass of the pair half, tokens packed, the heads'
        # shared work once (fused.py); the members' predictions averaged, then blended with
        # embedding's.
        if self._stack is not None:
            values = 10 * fused.ensemble(self._stack, packed, expl, self.embedding_share)  # (E, N)
        else:
            values = 10 * grid.ensemble(self.heads, packed, expl, self.embedding_share)
        # round(v, 3) of every value at once: v * 1000 is exact in float64 (v is a float32), and
        # torch.round, like round(), takes the even neighbour on a tie.
        rows = torch.round(values.double() * 1000).div_(1000).tolist()
        spans = list(zip(packed.offsets, packed.lengths, strict=True))
        for e, row in enumerate(rows):
            for i, (start, n) in zip(kept, spans, strict=True):
                out[e][i] = row[start : start + n]
        return out
