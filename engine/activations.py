"""One unit's activations on a text a person typed: checked input, plain JSON-ready answer.

A unit is a neuron of a NeuronModel or a latent of a LatentModel (engine/units.py): advanced
mode shows either on any text.

``batch_text_activations`` answers several (neuron, text) requests on one layer with one
padded forward pass; each answer equals what ``text_activations`` gives for it alone (up to
float rounding: the padded positions are masked out, and later layers never run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.display_text import display_from_offsets, display_from_tokenizer
from engine.models import ModelError
from engine.records import ActivationRecord
from engine.units import LatentModel, UnitModel


def check_text(text: object, max_chars: int) -> str:
    """The text if a model may take it; ModelError with the reason otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ModelError("text is empty")
    if len(text) > max_chars:
        raise ModelError(f"text is {len(text)} characters; at most {max_chars} are allowed")
    return text


def _check_neuron(model: UnitModel, neuron: int) -> None:
    if not 0 <= neuron < model.n_neurons:
        what = (
            f"{model.kind} {model.source} has latents"
            if isinstance(model, LatentModel)
            else f"{model.name} has neurons"
        )
        word = "latent" if isinstance(model, LatentModel) else "neuron"
        raise ModelError(f"{word} {neuron} out of range: {what} 0-{model.n_neurons - 1}")


def text_display(model: UnitModel, text: str) -> list[str]:
    """Display text of ``model.tokenize(text)``: the typed text cut at the tokenizer's offsets
    (the player's own casing and spaces), special tokens empty."""
    tokenizer = model.tokenizer
    n_pre, n_suf = len(model.prefix_ids), len(model.suffix_ids)
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = [tuple(o) for o in enc["offset_mapping"]]
    except (NotImplementedError, ValueError, KeyError):  # a slow tokenizer has no offsets
        raw = tokenizer.convert_ids_to_tokens(model.full_ids(text))
        return display_from_tokenizer(tokenizer, raw)
    content = display_from_offsets(text, offsets, [False] * len(offsets))
    return ["" for _ in range(n_pre)] + content + ["" for _ in range(n_suf)]


def _answer(record: ActivationRecord, display: list[str]) -> dict[str, Any]:
    return {
        "tokens": record.tokens,
        "display": display if len(display) == len(record.tokens) else list(record.tokens),
        "activations": [round(a, 6) for a in record.activations],
        "max": round(record.max_activation, 6),
        "max_index": record.max_index,
    }


def text_activations(model: UnitModel, layer: int, neuron: int, text: str) -> dict[str, Any]:
    """``{"tokens", "display", "activations", "max", "max_index"}`` of ``neuron`` in ``layer`` on ``text``.

    Tokens are as the model sees them, special tokens (BOS, [CLS]/[SEP]) included; ``display``
    is what a reader sees of each (special tokens empty).
    """
    model.check_layer(layer)
    _check_neuron(model, neuron)
    return _answer(model.record(layer, neuron, text), text_display(model, text))


def batch_text_activations(
    model: UnitModel, layer: int, requests: Sequence[tuple[int, str]]
) -> list[dict[str, Any] | ModelError]:
    """Per (neuron, text) request, in order, ``text_activations``' answer or the ModelError
    that request alone raises (bad neuron, empty or too long text); one forward pass for the
    rest. A bad layer concerns every request, so it raises."""
    model.check_layer(layer)
    answers: dict[int, dict[str, Any] | ModelError] = {}
    good: list[int] = []
    ids_of: dict[int, list[int]] = {}
    for i, (neuron, text) in enumerate(requests):
        try:
            _check_neuron(model, neuron)
            if not text.strip():
                raise ModelError("text is empty")
            ids_of[i] = model.full_ids(text)
        except ModelError as exc:
            answers[i] = exc
        else:
            good.append(i)
    if good:
        neurons = sorted({requests[i][0] for i in good})
        column = {neuron: c for c, neuron in enumerate(neurons)}
        texts = [requests[i][1] for i in good]
        acts = model.activations(texts, layer, neurons, batch_size=len(texts))
        for i, per_token in zip(good, acts, strict=True):
            values = per_token[:, column[requests[i][0]]].tolist()
            record = ActivationRecord(tokens=model.token_strings(ids_of[i]), activations=values)
            answers[i] = _answer(record, text_display(model, requests[i][1]))
    return [answers[i] for i in range(len(requests))]
