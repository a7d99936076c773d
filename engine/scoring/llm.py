"""The simulation method on a local causal LM (transformers), one forward pass per record.

The prediction at each token is the expected value over the activation tokens
"0".."top" at that token's slot: ``EV = sum_v v * p(v)`` with p the softmax of the
logits restricted to those tokens. Pairs of (explanation, record) are padded into
batches, so scoring several explanations at once costs fewer passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from engine.records import ActivationRecord
from engine.scoring.prompts import SimulationPrompt, all_at_once
from engine.scoring.simulator import Predictions, Simulator, clamp_scale

# Bump when the prompt or the reading of the logits changes.
VERSION = "llm-1"


def value_token_ids(tokenizer: Any) -> tuple[list[int], int]:
    """Token ids of "0".."10" and the top of the scale this tokenizer can spell in one token each."""
    ids = []
    for v in range(11):
        encoded = tokenizer.encode(str(v), add_special_tokens=False)
        if len(encoded) != 1:
            break
        ids.append(encoded[0])
    if len(ids) < 10:
        raise ValueError("the tokenizer cannot spell the digits 0..9 as single tokens")
    return ids, len(ids) - 1


class LocalLMSimulator(Simulator):
    name = "llm"

    def __init__(self, model: Any, tokenizer: Any, model_name: str, batch_size: int = 8) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.value_ids, self.top = value_token_ids(tokenizer)
        self.version = f"{VERSION}:{model_name}"[:64]
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, name_or_path: str, device: str = "auto", data_dir: Any = None) -> LocalLMSimulator:
        from engine.models.causal_lm import load_causal_lm  # the models package owns loading

        model, tokenizer = load_causal_lm(name_or_path, device=device, data_dir=data_dir)
        return cls(model, tokenizer, model_name=str(name_or_path).rstrip("/").rsplit("/", 1)[-1])

    def _encode(self, prompt: SimulationPrompt) -> tuple[list[int], list[int]]:
        """Token ids of the prompt and, per slot, the position whose logits predict the slot's value."""
        ids: list[int] = []
        bos = getattr(self.tokenizer, "bos_token_id", None)
        if bos is not None:
            ids.append(bos)
        positions = []
        segments = prompt.segments()
        for k, segment in enumerate(segments):
            ids.extend(self.tokenizer.encode(segment, add_special_tokens=False))
            if k < len(prompt.slots):
                positions.append(len(ids) - 1)
        return ids, positions

    @torch.inference_mode()
    def _expected_values(self, encoded: list[tuple[list[int], list[int]]]) -> list[list[float]]:
        width = max(len(ids) for ids, _ in encoded)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, (ids, _) in enumerate(encoded):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
        values = torch.arange(len(self.value_ids), dtype=torch.float32)
        out = []
        for row, (_, positions) in enumerate(encoded):
            if not positions:
                out.append([])
                continue
            at_slots = logits[row, positions][:, self.value_ids].float().cpu()
            expected = torch.softmax(at_slots, dim=-1) @ values  # on 0..top
            out.append([clamp_scale(v * 10 / self.top) for v in expected.tolist()])
        return out

    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        pairs = [(e, r) for e in range(len(explanations)) for r in range(len(records))]
        encoded = [
            self._encode(all_at_once(explanations[e], records[r].tokens, top=self.top)) for e, r in pairs
        ]
        # Similar lengths together keep padding (wasted compute) small.
        order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]))
        results: dict[int, list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, values in zip(chunk, self._expected_values([encoded[i] for i in chunk]), strict=True):
                results[i] = [round(v, 3) for v in values]
        out: list[Predictions] = [[[] for _ in records] for _ in explanations]
        for i, (e, r) in enumerate(pairs):
            out[e][r] = results[i]
        return out
