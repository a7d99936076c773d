"""Machine explanations: a language model completes the explainer prompt K times.

Two explainers speak one interface (``explain(records, k, max_chars)``): a local
causal LM through transformers (sampling K continuations at once) and any
OpenAI-compatible endpoint (Completions with ``n``, or Chat Completions for servers
without a Completions endpoint). Candidates are cleaned to one phrase; empty ones,
duplicates and copies of the prompt's worked example are dropped and sampling goes on,
a few rounds at most, so fewer than K can come back from a model that keeps saying
nothing useful.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any

import openai
import torch

from config.settings import Settings
from engine.records import ActivationRecord
from engine.scoring.endpoint import openai_client
from engine.scoring.explain_prompt import EXAMPLE_ANSWER, LEAD, clean_explanation, explainer_prompt
from engine.scoring.simulator import token_texts
from engine.scoring.trained.families import listed

EXPLAINERS = ("llm", "openai", "tokens")
ROUNDS = 3
MAX_NEW_TOKENS = 32


class ExplainerError(RuntimeError):
    """An explainer cannot work as configured (model missing, endpoint unreachable ...)."""


def _add_unique(found: list[str], candidates: Sequence[str], k: int, max_chars: int) -> None:
    # A small model tends to repeat the worked example's answer whatever the records say.
    seen = {f.lower() for f in found} | {clean_explanation(EXAMPLE_ANSWER, max_chars).lower()}
    for raw in candidates:
        text = clean_explanation(raw, max_chars)
        if text and text.lower() not in seen and len(found) < k:
            found.append(text)
            seen.add(text.lower())


class LocalLMExplainer:
    name = "llm"

    def __init__(self, model: Any, tokenizer: Any, model_name: str, temperature: float = 0.8) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.version = f"explain-1:{model_name}"[:64]
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, name_or_path: str, device: str = "auto", data_dir: Any = None) -> LocalLMExplainer:
        from engine.models.causal_lm import load_causal_lm

        try:
            model, tokenizer = load_causal_lm(name_or_path, device=device, data_dir=data_dir)
        except (OSError, ValueError) as exc:
            raise ExplainerError(f"cannot load the explainer model {name_or_path!r}: {exc}") from exc
        return cls(model, tokenizer, model_name=str(name_or_path).rstrip("/").rsplit("/", 1)[-1])

    @torch.inference_mode()
    def _prefill(self, prompt: str) -> tuple[torch.Tensor, Any]:
        """The prompt's ids and its key/value cache: the long prompt is read once, not once per sample."""
        from transformers import DynamicCache

        ids = self.tokenizer(prompt, return_tensors="pt").input_ids.to(self.device)
        cache = DynamicCache(config=self.model.config)
        # All but the last token: generate() feeds the uncached rest (here one token) itself.
        self.model(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True)
        return ids, cache

    @torch.inference_mode()
    def _sample(self, ids: torch.Tensor, cache: Any) -> str:
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        out = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            past_key_values=copy.deepcopy(cache),
            do_sample=True,
            temperature=self.temperature,
            top_p=0.95,
            max_new_tokens=MAX_NEW_TOKENS,
            pad_token_id=pad,
            stop_strings=["\n"],  # the answer is one line; what follows is wasted time
            tokenizer=self.tokenizer,
        )
        return self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    def explain(self, records: Sequence[ActivationRecord], k: int, max_chars: int = 280) -> list[str]:
        ids, cache = self._prefill(explainer_prompt(records))
        found: list[str] = []
        for _ in range(ROUNDS * k):  # one sample at a time, each from a copy of the prompt's cache
            _add_unique(found, [self._sample(ids, cache)], k, max_chars)
            if len(found) >= k:
                break
        return found


class OpenAIExplainer:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "not-needed",
        timeout: float = 60.0,
        client: openai.OpenAI | None = None,
    ) -> None:
        try:
            self.client = openai_client(base_url, model, api_key, timeout, client, "explainer")
        except ValueError as exc:
            raise ExplainerError(str(exc)) from None
        self.model = model
        self.version = f"explain-1:openai:{model}"[:64]
        # None until the first request tells whether the endpoint has Completions.
        self.chat_only: bool | None = None

    def _completions(self, prompt: str, n: int) -> list[str] | None:
        try:
            response = self.client.completions.create(
                model=self.model, prompt=prompt, n=n, max_tokens=MAX_NEW_TOKENS, temperature=1.0, stop=["\n"]
            )
        except openai.APIConnectionError as exc:
            raise ExplainerError(f"cannot reach the OpenAI-compatible endpoint: {exc}") from exc
        except openai.APIStatusError:
            return None  # no Completions endpoint: chat instead
        return [c.text for c in response.choices]

    def _chat(self, prompt: str, n: int) -> list[str]:
        body, _, tail = prompt.rpartition("Explanation of neuron 2 behavior:")
        messages = [
            {"role": "system", "content": "Complete the last line with one short phrase and nothing else."},
            {"role": "user", "content": f"{body}Explanation of neuron 2 behavior:{tail} ..."},
        ]
        answers = []
        for _ in range(n):  # not every server honours n for chat
            try:
                response = self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    max_tokens=MAX_NEW_TOKENS,
                    temperature=1.0,  # type: ignore[arg-type]
                )
            except openai.OpenAIError as exc:
                raise ExplainerError(f"the endpoint failed a chat request: {exc}") from exc
            text = (response.choices[0].message.content or "") if response.choices else ""
            # A chat model may repeat the lead-in; keep what follows it.
            answers.append(text.split(LEAD, 1)[-1])
        return answers

    def explain(self, records: Sequence[ActivationRecord], k: int, max_chars: int = 280) -> list[str]:
        prompt = explainer_prompt(records)
        found: list[str] = []
        for _ in range(ROUNDS):
            n = k - len(found)
            answers = None if self.chat_only else self._completions(prompt, n)
            self.chat_only = answers is None
            if answers is None:
                answers = self._chat(prompt, n)
            _add_unique(found, answers, k, max_chars)
            if len(found) >= k:
                break
        return found


APOSTROPHES = ("'", "’")


class TokenListExplainer:
    """No model: names the words the neuron fires on most — the baseline of the paper's figures.

    Each record votes for the words at or above half its peak; the three words with most
    votes make one explanation. It cannot say why, only what, so players can beat it. A piece
    that continues a word (WordPiece's "##s", a BPE piece glued to the one before) is named as
    an ending, "-s", and a clitic cut off at its apostrophe as "'s": tokens-1 wrote both as the
    word "s", which reads as a letter to a player."""

    name = "tokens"
    version = "tokens-2"

    def explain(self, records: Sequence[ActivationRecord], k: int = 1, max_chars: int = 280) -> list[str]:
        votes: Counter[str] = Counter()
        for record in records:
            peak = record.max_activation
            if peak <= 0:
                continue
            texts = token_texts(record.tokens)
            # Tokens that carry their spaces tell a word's start; a bare word list does not.
            spaced = any(t[:1].isspace() for t in texts[1:])
            for i, (token, value) in enumerate(zip(texts, record.activations, strict=True)):
                if value >= peak / 2 and any(c.isalnum() for c in token):
                    votes[_piece_name(texts, i, spaced)] += 1
        if not votes:
            raise ValueError("the neuron has no active records to explain")
        top = [w for w, _ in votes.most_common(3)]
        words = [w for w in top if not w.startswith("-")]
        endings = [w for w in top if w.startswith("-")]
        parts = [_named("word", words), _named("ending", endings)]
        return [", and ".join(p for p in parts if p)[:max_chars]][:k]


def _piece_name(texts: list[str], i: int, spaced: bool) -> str:
    """Token ``i`` as the explanation names it: "-s" for a word's ending, "'s" for a clitic
    (WordPiece cuts "it's" into it ' s), else the word."""
    token, before = texts[i], texts[i - 1] if i else ""
    word = token.strip().lower()
    if spaced and i > 0 and token[:1].isalnum() and before[-1:].isalnum():
        return "-" + word
    if before.strip() in APOSTROPHES and word.isalpha() and len(word) <= 2:
        return "'" + word
    return word


def _named(kind: str, items: list[str]) -> str:
    """'the words "a", "b" and "c"', 'the ending "-s"', or '' for none."""
    return f"the {kind}{'s' if len(items) > 1 else ''} {listed(items)}" if items else ""


Explainer = LocalLMExplainer | OpenAIExplainer | TokenListExplainer


def make_explainer(settings: Settings, name: str | None = None) -> Explainer:
    """The explainer called ``name`` (default: settings.explainer), its model loaded."""
    name = name or settings.explainer
    if name == "llm":
        return LocalLMExplainer.load(
            settings.explainer_model, device=settings.device, data_dir=settings.data_path
        )
    if name == "openai":
        return OpenAIExplainer(
            settings.openai_base_url, settings.openai_model, api_key=settings.openai_api_key
        )
    if name == "tokens":
        return TokenListExplainer()
    raise ExplainerError(f"unknown explainer {name!r}; choose one of {', '.join(EXPLAINERS)}")
