"""The simulation method on any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama).

Preferred: the Completions API with ``echo`` and ``logprobs`` — the prompt comes back
tokenized with the top log-probabilities at every position, so the expected value
at each activation slot is read from ONE request per record (prompts are sent in
batches). Endpoints without echo+logprobs (chat-only servers) get the logprob-free
variant: the model rewrites each token with an integer 0..10. Which one an endpoint
supports is probed once, when the simulator is built, so the version is known
before anything is scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

from engine.records import ActivationRecord
from engine.scoring.endpoint import openai_client
from engine.scoring.prompts import all_at_once, chat_messages, parse_chat_answer
from engine.scoring.simulator import Predictions, Simulator, SimulatorError, clamp_scale

VERSION = "openai-1"
TOP_LOGPROBS = 5  # the most the OpenAI API returns


def expected_value(top_logprobs: dict[str, float] | None) -> float | None:
    """EV over the activation values among the top tokens; None when none of them is a value."""
    if not top_logprobs:
        return None
    mass = weighted = 0.0
    for token, logprob in top_logprobs.items():
        text = token.strip()
        if text.isdigit() and int(text) <= 10:
            p = math.exp(logprob)
            mass += p
            weighted += p * int(text)
    return None if mass == 0 else weighted / mass


class OpenAISimulator(Simulator):
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        mode: str = "auto",
        batch_size: int = 8,
        timeout: float = 60.0,
        client: openai.OpenAI | None = None,
    ) -> None:
        try:
            self.client = openai_client(base_url, model, api_key, timeout, client, "simulator")
        except ValueError as exc:
            raise SimulatorError(str(exc)) from None
        self.model = model
        self.batch_size = batch_size
        if mode not in ("auto", "logprobs", "chat"):
            raise SimulatorError(f"unknown openai simulator mode {mode!r} (auto, logprobs or chat)")
        self.mode = self._probe() if mode == "auto" else mode
        self.version = f"{VERSION}:{self.mode}:{model}"[:64]
        # Lines of chat answers that could not be read, since the simulator was built.
        self.unreadable_lines = 0

    def _probe(self) -> str:
        try:
            response = self.client.completions.create(
                model=self.model,
                prompt="a\t0\nb\t",
                max_tokens=1,
                echo=True,
                logprobs=TOP_LOGPROBS,
                temperature=0,
            )
        except openai.APIConnectionError as exc:
            raise SimulatorError(f"cannot reach the OpenAI-compatible endpoint: {exc}") from exc
        except openai.APIStatusError:
            return "chat"  # no Completions endpoint, or it refuses echo/logprobs
        logprobs = response.choices[0].logprobs if response.choices else None
        return "logprobs" if logprobs is not None and logprobs.top_logprobs else "chat"

    # -- echo + logprobs -------------------------------------------------------
    def _logprob_predictions(self, prompts: list[Any]) -> list[list[float]]:
        try:
            response = self.client.completions.create(
                model=self.model,
                prompt=[p.text for p in prompts],
                max_tokens=1,
                echo=True,
                logprobs=TOP_LOGPROBS,
                temperature=0,
            )
        except openai.OpenAIError as exc:
            raise SimulatorError(f"the endpoint failed a Completions request: {exc}") from exc
        choices = sorted(response.choices, key=lambda c: c.index)
        if len(choices) != len(prompts):
            raise SimulatorError(f"asked for {len(prompts)} completions, got {len(choices)}")
        return [
            self._read_slots(prompt, choice.logprobs) for prompt, choice in zip(prompts, choices, strict=True)
        ]

    @staticmethod
    def _read_slots(prompt: Any, logprobs: Any) -> list[float]:
        if logprobs is None or not logprobs.text_offset or not logprobs.top_logprobs:
            raise SimulatorError("the endpoint returned no logprobs for an echoed prompt")
        index_at = {offset: i for i, offset in enumerate(logprobs.text_offset)}
        values = []
        for slot in prompt.slots:
            i = index_at.get(slot)
            # A slot that is not a token boundary (tab merged with the value) predicts nothing.
            ev = (
                expected_value(logprobs.top_logprobs[i])
                if i is not None and i < len(logprobs.top_logprobs)
                else None
            )
            values.append(0.0 if ev is None else clamp_scale(ev))
        return values

    # -- the logprob-free variant ----------------------------------------------
    def _chat_prediction(self, explanation: str, record: ActivationRecord) -> list[float]:
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=chat_messages(explanation, record.tokens),  # type: ignore[arg-type]
                temperature=0,
                max_tokens=16 * len(record.tokens) + 32,
            )
        except openai.OpenAIError as exc:
            raise SimulatorError(f"the endpoint failed a chat request: {exc}") from exc
        answer = response.choices[0].message.content or "" if response.choices else ""
        values, failures = parse_chat_answer(answer, len(record.tokens))
        self.unreadable_lines += failures
        return values

    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        pairs = [(e, r) for e in range(len(explanations)) for r in range(len(records))]
        flat: list[list[float]] = []
        if self.mode == "logprobs":
            prompts = [all_at_once(explanations[e], records[r].tokens) for e, r in pairs]
            for start in range(0, len(prompts), self.batch_size):
                flat.extend(self._logprob_predictions(prompts[start : start + self.batch_size]))
        else:
            with ThreadPoolExecutor(max_workers=self.batch_size) as pool:
                flat = list(
                    pool.map(lambda p: self._chat_prediction(explanations[p[0]], records[p[1]]), pairs)
                )
        out: list[Predictions] = [[[] for _ in records] for _ in explanations]
        for (e, r), values in zip(pairs, flat, strict=True):
            out[e][r] = [round(v, 3) for v in values]
        return out
