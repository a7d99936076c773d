"""Frozen MiniLM features for the trained simulator: record tokens and explanation word-pieces.

A record token's feature is the mean of its word-pieces' hidden states at several layers
(concatenated): layer 1 keeps the word and its position, layer 3 the local syntax, the
last layer the word's sense in context. An explanation is kept as its word-pieces'
states at the same layers, so the head can attend to its words one by one, together
with which word of the explanation each piece belongs to (the sense evidence compares a
record's "bank" with the explanation's own "bank"). A word alone is embedded the way
``embedding`` embeds it (its lexical similarity is one of the head's inputs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from engine.scoring.embedding import _load, default_model_path
from engine.scoring.simulator import joined_text

_WORD = re.compile(r"[A-Za-z]+")

LAYERS = (1, 3, 6)
HIDDEN = 384
DIM = HIDDEN * len(LAYERS)
WORD_BATCH = 64
# What one more pass of the encoder costs, in word-pieces of batch (its fixed cost on a CPU):
# measured 8.2 ms a pass + 0.22 ms a piece on one thread (batches of 1-13 texts of 6-24
# pieces). At 8, a call's 13 explanations went in ~5 passes, 0.17 s of the bench's 2.4 s.
PASS_COST = 36
# Scoring packs a call's explanations into rows of at most this many word-pieces, each text
# attending only to itself (``_packed_states``): no padding and one pass a call. Attention
# grows with the row (at 256 pieces ~11% of a piece's cost in the linear layers).
ROW_PIECES = 256


class FeatureEncoder:
    def __init__(self, device: str = "cpu", batch_size: int = 32) -> None:
        self.tokenizer, self.model = _load(str(default_model_path()), device)
        self.device = device
        self.batch_size = batch_size

    @torch.inference_mode()
    def _states(self, texts: list[str]) -> list[tuple[torch.Tensor, list[list[int]]]]:
        """Per text, in the order given: its word-pieces' states at LAYERS (pieces, DIM) and
        their character offsets.

        One tokenisation of all texts, then passes over batches of similar length (``_batches``):
        a batch is padded to its longest text, and padding costs what a real piece costs
        (40-47% of a neuron's explanations' and records' pieces were padding)."""
        encoded = self.tokenizer(texts, truncation=True, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        out: list[tuple[torch.Tensor, list[list[int]]]] = [(torch.empty(0), [])] * len(texts)
        pad_id = self.tokenizer.pad_token_id or 0
        for group in _batches([len(x) for x in ids], self.batch_size):
            width = max(len(ids[i]) for i in group)
            input_ids = torch.full((len(group), width), pad_id, dtype=torch.long)
            mask = torch.zeros(len(group), width, dtype=torch.long)
            for row, i in enumerate(group):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            batch = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(mask)}
            hidden = self.model(
                **{k: v.to(self.device) for k, v in batch.items()}, output_hidden_states=True
            ).hidden_states
            states = torch.cat([hidden[i] for i in LAYERS], dim=-1).float().cpu()
            for row, i in enumerate(group):
                out[i] = (states[row, : len(ids[i])], [list(o) for o in offsets[i]])
        return out

    @torch.inference_mode()
    def _packed_states(self, texts: list[str]) -> list[tuple[torch.Tensor, list[list[int]]]]:
        """As ``_states``, the texts packed end to end into rows (``ROW_PIECES``) instead of
        padded batches: a block-diagonal attention mask keeps each text to itself and its
        position ids restart at 0, so its states are those of a pass of its own (within float
        noise, ~1e-6). A scoring call's dozen explanations of 6-24 pieces went in 1-2 padded
        passes with 15-35% padding; packed they take one pass and no padding."""
        encoded = self.tokenizer(texts, truncation=True, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        rows: list[list[int]] = []
        for i in sorted(range(len(texts)), key=lambda i: -len(ids[i])):  # first fit, longest first
            row = next((r for r in rows if sum(len(ids[j]) for j in r) + len(ids[i]) <= ROW_PIECES), None)
            if row is None:
                rows.append([i])
            else:
                row.append(i)
        width = max(sum(len(ids[j]) for j in r) for r in rows)
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        position = torch.zeros(len(rows), width, dtype=torch.long)
        segment = torch.full((len(rows), width), -1, dtype=torch.long)  # padding: its own segment
        spans: dict[int, tuple[int, int, int]] = {}
        for r, row in enumerate(rows):
            start = 0
            for i in row:
                n = len(ids[i])
                input_ids[r, start : start + n] = torch.tensor(ids[i])
                position[r, start : start + n] = torch.arange(n)
                segment[r, start : start + n] = i
                spans[i] = (r, start, n)
                start += n
        same = segment[:, :, None] == segment[:, None, :]  # (rows, width, width)
        # Additive, as both the eager and the SDPA attention read a float mask.
        mask = torch.zeros(same.shape).masked_fill_(~same, torch.finfo(torch.float32).min)[:, None]
        device = self.device
        h = self.model.embeddings(
            input_ids=input_ids.to(device),
            position_ids=position.to(device),
            token_type_ids=torch.zeros_like(input_ids).to(device),
        )
        hidden = [h]
        for layer in self.model.encoder.layer:
            h = layer(h, mask.to(device=device, dtype=h.dtype))
            hidden.append(h)
        states = torch.cat([hidden[i] for i in LAYERS], dim=-1).float().cpu()
        out = []
        for i in range(len(texts)):
            r, start, n = spans[i]
            out.append((states[r, start : start + n], [list(o) for o in offsets[i]]))
        return out

    def records(self, token_lists: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """One (tokens, DIM) tensor per record: its tokens' pooled word-piece states."""
        texts, spans = [], []
        for tokens in token_lists:
            text, token_spans = joined_text(tokens)
            texts.append(text)
            spans.append(token_spans)
        return [
            _pool(states, offsets, token_spans)
            for (states, offsets), token_spans in zip(self._states(texts), spans, strict=True)
        ]

    def explanations(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """One (word-pieces, DIM) tensor per explanation, [CLS] and [SEP] included.

        Training's path: padded batches (``_states``), as the shipped head was trained on, so
        the one command reproduces it bit for bit (packing moves states by float noise)."""
        return self.explain(texts, packed=False)[0]

    def explain(
        self, texts: Sequence[str], packed: bool = True
    ) -> tuple[list[torch.Tensor], list[list[str]]]:
        """``explanations`` and ``piece_words`` from one tokenisation (scoring asks for both);
        packed into rows (``_packed_states``) unless ``packed`` is False."""
        chunk = [t or "." for t in texts]
        out: list[torch.Tensor] = []
        words: list[list[str]] = []
        passes = self._packed_states(chunk) if packed and chunk else self._states(chunk)
        for text, (states, offsets) in zip(chunk, passes, strict=True):
            out.append(states)
            words.append(_piece_words(text, offsets))
        return out, words

    def piece_words(self, texts: Sequence[str]) -> list[list[str]]:
        """Per explanation, the lower-case word each of its word-pieces belongs to ("" for [CLS],
        [SEP] and pieces outside a word), aligned with ``explanations``."""
        out = []
        for text in texts:
            batch = self.tokenizer(text or ".", truncation=True, return_offsets_mapping=True)
            out.append(_piece_words(text or ".", batch["offset_mapping"]))
        return out

    @torch.inference_mode()
    def words(self, words: Sequence[str]) -> torch.Tensor:
        """(N, HIDDEN) unit vectors of words alone: mean-pooled last layer, as ``embedding`` does."""
        chunks = []
        # Batches of 64, as `embedding` embeds words: longer batches pad more (words are short).
        for start in range(0, len(words), WORD_BATCH):
            texts = [w or "." for w in words[start : start + WORD_BATCH]]
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True)
            hidden = self.model(**{k: v.to(self.device) for k, v in batch.items()}).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float().to(hidden.device)
            pooled = (hidden.float() * mask).sum(1) / mask.sum(1)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
        return torch.cat(chunks) if chunks else torch.zeros(0, HIDDEN)


def _piece_words(text: str, offsets: Sequence[Sequence[int]]) -> list[str]:
    spans = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    return [
        next((w for s, e, w in spans if s <= start < e), "") if end > start else "" for start, end in offsets
    ]


def _batches(lengths: list[int], size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``size`` texts of similar length, at least cost.

    Sorted by length, cut where it is cheapest (dynamic programming over the cut points): a
    batch costs its count times its longest length, plus PASS_COST pieces for the pass itself
    (a small batch's fixed cost)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        longest = lengths[order[j - 1]]
        for i in range(max(0, j - size), j):
            cost = best[i] + PASS_COST + (j - i) * longest
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups = []
    j = n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def _pool(states: torch.Tensor, offsets: list[list[int]], spans: list[tuple[int, int]]) -> torch.Tensor:
    pieces = [(int(s), int(e), i) for i, (s, e) in enumerate(offsets) if e > s]
    sentence = states[[i for _, _, i in pieces]].mean(0) if pieces else states.mean(0)
    out = torch.empty(len(spans), states.shape[-1])
    for t, (start, end) in enumerate(spans):
        inside = [i for s, e, i in pieces if s < end and e > start]
        # A token without a word-piece (blank, cut off by truncation) gets the record's mean.
        out[t] = states[inside].mean(0) if inside else sentence
    return out
