"""The one interface every simulator speaks, and helpers they share.

A simulator reads an explanation and a record's tokens and predicts the neuron's
activation on each token, on the 0..10 scale of normalised records. It has a
``name`` and a ``version``; both are stored with every score, and the version
changes whenever predictions could change (prompt, model, calibration), so a
newer version triggers rescoring and old scores stay comparable among themselves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from engine.records import ActivationRecord

# Predictions for one explanation: one list of floats (0..10) per record.
Predictions = list[list[float]]


class Simulator(ABC):
    name: str = ""
    version: str = ""

    def predict(self, explanation: str, records: Sequence[ActivationRecord]) -> Predictions:
        return self.predict_batch([explanation], records)[0]

    @abstractmethod
    def predict_batch(
        self, explanations: Sequence[str], records: Sequence[ActivationRecord]
    ) -> list[Predictions]:
        """Predictions for every explanation on every record (explanation-major)."""


def clamp_scale(value: float) -> float:
    return 0.0 if value < 0 else 10.0 if value > 10 else float(value)


def token_texts(tokens: Sequence[str]) -> list[str]:
    """Record tokens as the text they stand for, whatever tokenizer made them.

    Byte-level BPE marks a leading space with "Ġ", SentencePiece with "▁", WordPiece
    marks word-continuations with "##" and otherwise implies a space. Decoded tokens
    (" bank") pass through unchanged.
    """
    out = [t.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\n") for t in tokens]
    spaced = any(t[:1].isspace() for t in out)
    if not spaced and any(t.startswith("##") for t in out):
        # WordPiece: words are separate tokens, continuations glue on.
        return [t[2:] if t.startswith("##") else (" " + t if i else t) for i, t in enumerate(out)]
    return out


def prompt_token(text: str) -> str:
    """A token as it is written on one prompt line: no tabs or newlines inside."""
    shown = text.replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return shown if shown.strip() else repr(text)[1:-1] or " "


class SimulatorError(RuntimeError):
    """A simulator cannot work as configured (model missing, endpoint unreachable ...)."""


def joined_text(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """A record as the one text a tokenizer reads again, and each token's (start, end) in it."""
    text, spans = "", []
    for piece in token_texts(list(tokens)):
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    return text, spans
