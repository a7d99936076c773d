"""One neuron's activations on a text a person typed: checked input, plain JSON-ready answer."""

from __future__ import annotations

from typing import Any

from engine.models import ModelError, NeuronModel


def check_text(text: object, max_chars: int) -> str:
    """The text if a model may take it; ModelError with the reason otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ModelError("text is empty")
    if len(text) > max_chars:
        raise ModelError(f"text is {len(text)} characters; at most {max_chars} are allowed")
    return text


def text_activations(model: NeuronModel, layer: int, neuron: int, text: str) -> dict[str, Any]:
    """``{"tokens", "activations", "max", "max_index"}`` of ``neuron`` in ``layer`` on ``text``.

    Tokens are as the model sees them, special tokens (BOS, [CLS]/[SEP]) included.
    """
    model.check_layer(layer)
    if not 0 <= neuron < model.n_neurons:
        raise ModelError(f"neuron {neuron} out of range: {model.name} has neurons 0-{model.n_neurons - 1}")
    record = model.record(layer, neuron, text)
    return {
        "tokens": record.tokens,
        "activations": [round(a, 6) for a in record.activations],
        "max": round(record.max_activation, 6),
        "max_index": record.max_index,
    }
