"""The explainer prompt (automated-interpretability's method, in our own words).

The model sees a neuron's top records as ``token<TAB>activation`` lines between
``<start>`` and ``<end>``, activations normalised to 0..10 over the records shown,
and completes "the main thing this neuron does is find". One worked example comes
first so that a small local model sees the format and the kind of answer wanted.
Records are cut to a window around their highest token: the prompt stays short,
and the tokens that matter stay in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.records import ActivationRecord, max_over, normalize
from engine.scoring.simulator import prompt_token, token_texts

LEAD = "the main thing this neuron does is find"

SYSTEM = (
    "We study single neurons of a neural network. A neuron reacts to some particular thing in a "
    "short text. Below, each text is listed one token per line as token<tab>activation; activations "
    "go from 0 to 10, higher meaning the neuron reacts more strongly, and 0 meaning not at all. "
    "Read where the neuron is active and say in one short phrase what it reacts to, without "
    "listing every example.\n\n"
)

# A worked example (already on 0..10), with the kind of answer we want.
EXAMPLE_RECORDS = [
    [("We", 0), (" left", 0), (" on", 0), (" Friday", 9), (" and", 0), (" came", 0), (" back", 0)],
    [("The", 0), (" shop", 0), (" is", 0), (" shut", 0), (" on", 0), (" Sundays", 10), (".", 0)],
    [("Every", 0), (" Monday", 8), (" morning", 2), (" she", 0), (" runs", 0)],
]
EXAMPLE_ANSWER = "days of the week."

# Tokens kept before and after a record's highest token.
WINDOW_BEFORE = 16
WINDOW_AFTER = 8


def _window(record: ActivationRecord) -> tuple[list[str], list[float]]:
    peak = record.max_index
    start = max(0, peak - WINDOW_BEFORE)
    end = min(len(record.tokens), peak + WINDOW_AFTER + 1)
    return list(record.tokens[start:end]), list(record.activations[start:end])


def _listing(lines: Sequence[tuple[str, int]], omit_zeros: bool) -> str:
    shown = [(t, v) for t, v in lines if v > 0] if omit_zeros else list(lines)
    return "<start>\n" + "".join(f"{prompt_token(t)}\t{v}\n" for t, v in shown) + "<end>\n"


def _neuron_section(number: int, listings: list[list[tuple[str, int]]], omit_zeros: bool) -> str:
    text = f"Neuron {number}\nActivations:\n"
    text += "".join(_listing(lines, False) for lines in listings)
    if omit_zeros:
        # As in the paper: the same records again with only the active tokens, the gist at a glance.
        text += "Same activations, only the tokens where the neuron is active:\n"
        text += "".join(_listing(lines, True) for lines in listings)
    return text + f"\nExplanation of neuron {number} behavior: {LEAD}"


def explainer_prompt(
    records: Sequence[ActivationRecord], max_records: int = 5, omit_zeros: bool = True
) -> str:
    """The prompt ending in "... the main thing this neuron does is find"; the model completes it."""
    shown = [r for r in records if r.tokens][:max_records]
    if not shown or max_over(shown) <= 0:
        raise ValueError("the neuron has no active records to explain")
    windows = [_window(r) for r in shown]
    scale = max(max(acts, default=0.0) for _, acts in windows)
    listings = [
        list(zip(token_texts(tokens), normalize(acts, scale), strict=True)) for tokens, acts in windows
    ]
    text = SYSTEM + _neuron_section(1, EXAMPLE_RECORDS, omit_zeros) + f" {EXAMPLE_ANSWER}\n\n"
    return text + _neuron_section(2, listings, omit_zeros)


def clean_explanation(completion: str, max_chars: int) -> str:
    """The first sentence of a completion, without quotes or a final full stop; '' when nothing is left."""
    text = completion.strip().split("\n", 1)[0]
    # Control characters (a small model's noise) would garble a room's display and its logs.
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    for stop in (". ", "<end>", "Neuron "):
        text = text.split(stop, 1)[0]
    text = text.strip().strip("\"'`").rstrip(".").strip()
    if len(text) > max_chars:
        cut = text[:max_chars].rsplit(" ", 1)[0]
        text = cut if cut else text[:max_chars]
    return text
