"""``llm-pointing``: a local causal LM (transformers) that points, calibrated against no explanation.

The prompt (engine/scoring/prompts.py, "pointing") shows the explanation and a
record's text and asks on which word the neuron fires most. Every word of the
record is a candidate answer; its log-probability log p_e(word) is read on its own
(all words of a chunk of records in ONE forward pass, engine/scoring/continuations.py).

Calibration: a small model likes some words whatever the explanation says (the first
word of the text, capitalised words, digits). So the same prompt is also read with
an EMPTY explanation, log p_0(word), and the prediction is how much the explanation
raised the word, in bits: ``clamp(log2(p_e / p_0), 0, 10)`` — 0 where the explanation
made the word no likelier, 10 where it made it 1024 times likelier. The empty-
explanation pass depends only on the record, so it is computed once per record and
kept (LRU of NEUTRAL_CACHE_MAX records): scoring several explanations on the same
records, the common case, pays it once. Sub-word tokens of one word share its value.

Beside ``llm`` (engine/scoring/llm.py, the "all at once" digit reading of the method; the
remote ``openai`` simulator uses it too), because with a small local model that reading fails:
measured on the planted neurons with smollm2-135m (docs/BENCHMARKS.md), the digit
read at ``token<TAB>`` barely moves with the explanation (lexical AUC 0.87, and
0.94-0.96 even with lines read independently and the same calibration), while this
reading reaches lexical 0.971 and contextual 0.949 (lexical 0.93-0.97 across the worked
examples tried). The question means the same to a larger model; nothing here is
specific to SmolLM2 (measured only on it and on the tiny test models).

Cost per record and explanation: the question plus ~1-2 tokens per word; the prompt
head is a KV cache computed once, the explanation's block once per explanation.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from engine.records import ActivationRecord
from engine.scoring.continuations import Context, continuation_logprobs, extend_cache
from engine.scoring.prompts import PointingRecord, pointing_explanation, pointing_head, pointing_record
from engine.scoring.simulator import Predictions, Simulator, clamp_scale

# Bump when the prompt or the reading of the logits changes.
VERSION = "pointing-1"
# The explanation-free prompt: what the model expects of a record's words anyway.
NEUTRAL_EXPLANATION = ""
NEUTRAL_CACHE_MAX = 512


def predictions_from_logprobs(
    record: PointingRecord, explained: Sequence[float], neutral: Sequence[float]
) -> list[float]:
    """Per token: how many bits the explanation added to its word's log-probability, on 0..10."""
    lift = [(e - n) / math.log(2) for e, n in zip(explained, neutral, strict=True)]
    return [0.0 if w is None else round(clamp_scale(lift[w]), 3) for w in record.word_of_token]


class PointingLMSimulator(Simulator):
    name = "llm-pointing"

    def __init__(self, model: Any, tokenizer: Any, model_name: str, batch_size: int = 8) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size  # records per forward pass
        self.version = f"{VERSION}:{model_name}"[:64]
        self._head: Any = None  # KV cache of pointing_head(), built on first use
        self._neutral: OrderedDict[tuple[str, ...], list[float]] = OrderedDict()
        self._lock = threading.Lock()  # the caches are shared state

    @classmethod
    def load(cls, name_or_path: str, device: str = "auto", data_dir: Any = None) -> PointingLMSimulator:
        from engine.models.causal_lm import load_causal_lm  # the models package owns loading

        model, tokenizer = load_causal_lm(name_or_path, device=device, data_dir=data_dir)
        return cls(model, tokenizer, model_name=str(name_or_path).rstrip("/").rsplit("/", 1)[-1])

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _head_cache(self) -> Any:
        if self._head is None:
            bos = getattr(self.tokenizer, "bos_token_id", None)
            self._head = extend_cache(
                self.model, None, ([bos] if bos is not None else []) + self._ids(pointing_head())
            )
        return self._head

    def _word_logprobs(self, explanation: str, prepared: Sequence[PointingRecord]) -> list[list[float]]:
        """log p(word | explanation, text, question) for every word of every record."""
        cache = extend_cache(self.model, self._head_cache(), self._ids(pointing_explanation(explanation)))
        contexts: list[Context] = [
            (self._ids(p.question), [self._ids(answer) for answer in p.answers]) for p in prepared
        ]
        # Similar lengths together: a pass's mask is square in its width.
        order = sorted(range(len(contexts)), key=lambda i: len(contexts[i][0]) + len(contexts[i][1]))
        out: dict[int, list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for i, values in zip(
                chunk, continuation_logprobs(self.model, cache, [contexts[i] for i in chunk]), strict=True
            ):
                out[i] = values
        return [out[i] for i in range(len(contexts))]

    def _neutral_logprobs(
        self, records: Sequence[ActivationRecord], prepared: Sequence[PointingRecord]
    ) -> list[list[float]]:
        """The explanation-free log-probabilities, from the cache or computed once per new record."""
        keys = [tuple(r.tokens) for r in records]
        missing: dict[tuple[str, ...], int] = {}
        for i, key in enumerate(keys):
            if key not in self._neutral:
                missing.setdefault(key, i)
        if missing:
            computed = self._word_logprobs(NEUTRAL_EXPLANATION, [prepared[i] for i in missing.values()])
            self._neutral.update(zip(missing, computed, strict=True))
        found = []
        for key in keys:
            self._neutral.move_to_end(key)
            found.append(self._neutral[key])
        while len(self._neutral) > NEUTRAL_CACHE_MAX:
            self._neutral.popitem(last=False)
        return found

    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        prepared = [pointing_record(r.tokens) for r in records]
        with self._lock:
            neutral = self._neutral_logprobs(records, prepared)
            out: list[Predictions] = []
            for explanation in explanations:
                explained = self._word_logprobs(explanation, prepared)
                out.append(
                    [
                        predictions_from_logprobs(p, e, n)
                        for p, e, n in zip(prepared, explained, neutral, strict=True)
                    ]
                )
        return out
