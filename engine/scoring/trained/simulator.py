"""The ``trained`` simulator: frozen MiniLM features, a small head trained on synthetic neurons.

The head ships in this package (``head.pt``, built by ``neuronquest simulator train``).
The version names the head's content hash, so a retrained head is a new version and the
rescoring sweep scores every explanation again under it (old scores keep theirs).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from engine.records import ActivationRecord
from engine.scoring.simulator import Predictions, Simulator, SimulatorError
from engine.scoring.trained.features import FeatureEncoder
from engine.scoring.trained.head import Head, pad
from engine.scoring.trained.structure import matches, record_form, terms

VERSION = "trained-2"
SHIPPED_HEAD = Path(__file__).with_name("head.pt")
RECORD_CACHE_MAX = 256  # records' prepared token features (a 64-token record: ~330 kB)
EXPLANATION_CACHE_MAX = 2048


def load_head(path: Path = SHIPPED_HEAD) -> tuple[Head, str, dict[str, Any]]:
    """(head in eval mode, short content hash, training metadata)."""
    if not path.is_file():
        raise SimulatorError(f"no trained head at {path}; build one with `neuronquest simulator train`")
    blob = path.read_bytes()
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    head = Head(**checkpoint["config"])
    head.load_state_dict({k: v.float() for k, v in checkpoint["state"].items()})
    return head.eval(), hashlib.sha256(blob).hexdigest()[:10], checkpoint.get("meta", {})


def prepare(head: Head, tokens: Sequence[str], features: torch.Tensor) -> torch.Tensor:
    """One record's explanation-independent part: (T, D) MiniLM features -> the head's prepared rows."""
    form, opener = record_form(tokens)
    return head.prepare(features.float().unsqueeze(0), form.unsqueeze(0), opener.unsqueeze(0))[0]


class TrainedSimulator(Simulator):
    name = "trained"

    def __init__(
        self,
        head_path: Path | None = None,
        device: str = "cpu",
        *,
        head: Head | None = None,
        encoder: FeatureEncoder | None = None,
    ) -> None:
        if head is None:
            head, digest, self.meta = load_head(head_path or SHIPPED_HEAD)
        else:  # a head being trained: scored under a provisional version
            digest, self.meta = "unsaved", {}
        self.head = head
        self.encoder = encoder or FeatureEncoder(device)
        self.version = f"{VERSION}:{digest}"
        self._records: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._explanations: OrderedDict[str, torch.Tensor] = OrderedDict()

    def remember_records(self, tokens: Sequence[Sequence[str]], features: Sequence[torch.Tensor]) -> None:
        """Raw features computed elsewhere (training caches them for every sentence)."""
        for toks, feats in zip(tokens, features, strict=True):
            with torch.inference_mode():
                self._records[tuple(toks)] = prepare(self.head, toks, feats)

    def remember_explanations(self, texts: Sequence[str], features: Sequence[torch.Tensor]) -> None:
        for text, feats in zip(texts, features, strict=True):
            self._explanations[text] = feats.float()

    def forget(self) -> None:
        self._records.clear()
        self._explanations.clear()

    @torch.inference_mode()
    def _prepared(self, records: Sequence[ActivationRecord]) -> list[torch.Tensor]:
        keys = [tuple(r.tokens) for r in records]
        missing = list(dict.fromkeys(k for k in keys if k not in self._records and k))
        for key, feats in zip(missing, self.encoder.records(missing), strict=True):
            self._records[key] = prepare(self.head, key, feats)
        out = []
        for key in keys:
            if key:
                self._records.move_to_end(key)
            out.append(self._records.get(key, torch.zeros(0, 1)))
        while len(self._records) > RECORD_CACHE_MAX:
            self._records.popitem(last=False)
        return out

    def _explained(self, texts: Sequence[str]) -> list[torch.Tensor]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._explanations))
        for text, feats in zip(missing, self.encoder.explanations(missing), strict=True):
            self._explanations[text] = feats
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
        prepared = self._prepared(records)
        kept = [i for i, x in enumerate(prepared) if x.shape[0]]
        out: list[Predictions] = [[[] for _ in records] for _ in explanations]
        if not kept:
            return out
        x, lengths = pad([prepared[i] for i in kept])
        expl, expl_lengths = pad(self._explained(explanations))
        n_expl, n_rec = len(explanations), len(kept)
        # Every (explanation, record) pair in one pass of the head: explanation-major rows.
        pieces = expl.repeat_interleave(n_rec, dim=0)
        mask = torch.arange(expl.shape[1])[None, :] < expl_lengths.repeat_interleave(n_rec)[:, None]
        words = [[t.strip().lower() for t in records[i].tokens] for i in kept]
        matched, _ = pad([matches(w, t) for t in map(terms, explanations) for w in words])
        logits = self.head.score(x.repeat(n_expl, 1, 1), lengths.repeat(n_expl), pieces, mask, matched)
        values = (10 * torch.sigmoid(logits)).view(n_expl, n_rec, -1)
        for e in range(n_expl):
            for row, i in enumerate(kept):
                out[e][i] = [round(float(v), 3) for v in values[e, row, : int(lengths[row])].tolist()]
        return out
