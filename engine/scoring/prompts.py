"""Prompts of the simulators that read a language model.

"All at once" (the remote ``openai`` simulator): the prompt lists a record one token
per line as ``token<TAB>unknown``. A causal LM reading it predicts, at each position
right after a tab, the activation digit that "should" follow; reading the logits
there for every line in ONE forward pass gives the whole record's predictions. The
top of the scale is a parameter: a tokenizer that spells "10" with two tokens cannot
put its probability in one slot, so a reader of such a model asks for 0..9 instead.

"Pointing" (the local ``llm`` simulator, see engine/scoring/llm.py): the prompt shows
the explanation and the record's text and asks for the word the neuron fires on most;
every word of the record is a candidate answer, read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from engine.scoring.simulator import prompt_token, token_texts

PLACEHOLDER = "unknown"

HEADER = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing in a "
    "short document. Look at an explanation of what the neuron does, and try to predict its "
    "activations on each token.\n\n"
    "The activation format is token<tab>activation, activations go from 0 to {top}, "
    '"{placeholder}" indicates an unknown activation. Most activations will be 0.\n\n'
)

# One worked example (0..10), so that even a small model sees the format and the idea.
EXAMPLE_EXPLANATION = "words about food and cooking"
EXAMPLE = [
    ("The", 0),
    (" chef", 3),
    (" fried", 8),
    (" the", 0),
    (" onions", 10),
    (" and", 0),
    (" then", 0),
    (" left", 0),
    (" early", 0),
    (".", 0),
]


def _explanation_lines(number: int, explanation: str) -> str:
    return (
        f"Neuron {number}\n"
        f"Explanation of neuron {number} behavior: "
        f"the main thing this neuron does is find {explanation.strip()}\n"
    )


def _neuron_block(number: int, explanation: str) -> str:
    return _explanation_lines(number, explanation) + "Activations:\n<start>\n"


@dataclass
class SimulationPrompt:
    text: str
    # Character offsets in ``text`` where each token's activation value begins.
    slots: list[int]
    top: int

    def segments(self) -> list[str]:
        """The text cut at every slot: encoding segments one by one keeps each slot a token boundary."""
        cuts = [0, *self.slots, len(self.text)]
        return [self.text[a:b] for a, b in pairwise(cuts)]


def all_at_once(explanation: str, tokens: Sequence[str], top: int = 10) -> SimulationPrompt:
    text = HEADER.format(top=top, placeholder=PLACEHOLDER)
    text += _neuron_block(1, EXAMPLE_EXPLANATION)
    for token, value in EXAMPLE:
        text += f"{prompt_token(token)}\t{round(value * top / 10)}\n"
    text += "<end>\n\n" + _neuron_block(2, explanation)
    slots = []
    for token in tokens:
        text += f"{prompt_token(token)}\t"
        slots.append(len(text))
        text += f"{PLACEHOLDER}\n"
    text += "<end>\n"
    return SimulationPrompt(text=text, slots=slots, top=top)


# -- pointing (the local LM): on which word of the text does the neuron fire most? ----------
POINTING_HEADER = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing in a "
    "short document. Read an explanation of what the neuron does and a text, and name the word of "
    "the text on which the neuron fires most.\n\n"
)
POINTING_QUESTION = "The neuron fires most on the word:"
# Worked examples (explanation, text, answer), so that a small model sees the answer's form.
# Two rather than one: with smollm2-135m a single example moved lexical AUC by ~0.03
# depending on which one it was (docs/BENCHMARKS.md); none is a planted neuron's class.
POINTING_EXAMPLES = [
    (EXAMPLE_EXPLANATION, "The chef fried the onions and then left early.", "onions"),
    ("parts of the body", "She hurt her knee when she fell off the bike.", "knee"),
]


def pointing_head() -> str:
    """The part of every pointing prompt that depends on neither explanation nor record."""
    text = POINTING_HEADER
    for number, (explanation, example, answer) in enumerate(POINTING_EXAMPLES, 1):
        text += _explanation_lines(number, explanation) + f"Text: {example}\n{POINTING_QUESTION} {answer}\n\n"
    return text


def pointing_explanation(explanation: str) -> str:
    """The neuron's block up to its text; the empty explanation gives the explanation-free prompt."""
    return _explanation_lines(len(POINTING_EXAMPLES) + 1, explanation)


@dataclass
class PointingRecord:
    # "Text: ...\n<question>": follows the explanation block.
    question: str
    # The candidate answers, one per word of the record, each " word" as it would follow the question.
    answers: list[str]
    # For each record token, the index of its word in ``answers`` (None: a blank token, no word).
    word_of_token: list[int | None]


def pointing_record(tokens: Sequence[str]) -> PointingRecord:
    """The record as text plus its words: tokens that continue a word (no space, letters or digits
    on both sides, e.g. " Jan" + "uary") belong to that word and share its prediction."""
    texts = token_texts(tokens)
    words: list[str] = []
    owner: list[int | None] = []
    previous = ""
    for text in texts:
        if not text.strip():
            owner.append(None)
        else:
            if words and text[0].isalnum() and previous[-1:].isalnum():
                words[-1] += text
            else:
                words.append(text.strip())
            owner.append(len(words) - 1)
        previous = text
    shown = " ".join("".join(texts).split())  # one line, whatever whitespace the record holds
    return PointingRecord(
        question=f"Text: {shown}\n{POINTING_QUESTION}",
        answers=[f" {word}" for word in words],
        word_of_token=owner,
    )


# -- the logprob-free variant (chat models): the model rewrites each token with an integer ----
CHAT_INSTRUCTIONS = (
    "Rewrite every line between <start> and <end> as token<tab>activation, with the activation an "
    "integer from 0 to 10, in the same order and with one line per token. Answer with the "
    "rewritten lines between <start> and <end> and nothing else."
)


def chat_messages(explanation: str, tokens: Sequence[str]) -> list[dict[str, str]]:
    example = "\n".join(f"{prompt_token(t)}\t{v}" for t, v in EXAMPLE)
    system = HEADER.format(top=10, placeholder=PLACEHOLDER) + CHAT_INSTRUCTIONS
    user = (
        f"Example. Explanation: {EXAMPLE_EXPLANATION}\n<start>\n{example}\n<end>\n\n"
        f"Explanation: {explanation.strip()}\n<start>\n"
        + "\n".join(prompt_token(t) for t in tokens)
        + "\n<end>"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$")


def _line_value(line: str) -> float | None:
    # The value is what follows the last tab; without a tab, the last of several words
    # (a line holding only the token, which may itself be a number, has no value).
    if "\t" in line:
        tail = line.rsplit("\t", 1)[1]
    else:
        parts = line.split()
        if len(parts) < 2:
            return None
        tail = parts[-1]
    match = _NUMBER.match(tail)
    return None if match is None else max(0.0, min(10.0, float(match.group(1))))


def parse_chat_answer(answer: str, n_tokens: int) -> tuple[list[float], int]:
    """Per-token values from a rewritten record, and how many lines could not be read.

    Lines are matched to tokens by order; a missing or unreadable line predicts 0.
    """
    body = answer
    if "<start>" in body:
        body = body.split("<start>", 1)[1]
    body = body.split("<end>", 1)[0]
    lines = [line for line in body.strip("\n").split("\n") if line.strip()]
    values: list[float] = []
    failures = 0
    for i in range(n_tokens):
        value = _line_value(lines[i]) if i < len(lines) else None
        failures += value is None
        values.append(0.0 if value is None else value)
    return values, failures
