"""Each adapter's activations equal a direct computation from the model's own modules.

The direct computation takes the residual stream entering block L from the model's own
forward (output_hidden_states) and runs the block's sub-modules by hand up to the neuron.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from engine.models import ModelError, NeuronModel, load_model, resolve
from tests.model_fixtures import tiny_gpt2_dir, tiny_llama_dir

__all__ = ["tiny_gpt2_dir", "tiny_llama_dir"]  # fixtures, imported for pytest

TEXTS = [
    "The cat sat on the mat.",
    "Numbers like 12 and 345, then a much longer sentence that pads the others in the batch.",
    "Hello!",
]


@pytest.fixture(scope="module")
def minilm() -> NeuronModel:
    return load_model("minilm-l6", device="cpu")


def _direct_gpt2(path: Path, text: str, layer: int) -> torch.Tensor:
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    ids = torch.tensor([[tok.bos_token_id, *tok(text)["input_ids"]]])
    with torch.no_grad():
        h = model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.h[layer]
        mid = h + block.attn(block.ln_1(h))[0]  # sdpa attention is causal when given no mask
        return block.mlp.act(block.mlp.c_fc(block.ln_2(mid)))[0]


def _direct_llama(path: Path, text: str, layer: int) -> torch.Tensor:
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    ids = torch.tensor([tok(text)["input_ids"]])
    with torch.no_grad():
        h = model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.layers[layer]
        positions = torch.arange(ids.shape[1])[None]
        cos_sin = model.rotary_emb(h, positions)
        attn = block.self_attn(block.input_layernorm(h), position_embeddings=cos_sin, attention_mask=None)[0]
        x = block.post_attention_layernorm(h + attn)
        return (block.mlp.act_fn(block.mlp.gate_proj(x)) * block.mlp.up_proj(x))[0]


def _direct_bert(model: NeuronModel, text: str, layer: int) -> torch.Tensor:
    ids = torch.tensor([model.tokenizer(text)["input_ids"]])
    with torch.no_grad():
        h = model.model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.model.encoder.layer[layer]
        attn = block.attention(h)[0]
        return block.intermediate(attn)[0]


@pytest.mark.parametrize("layer", [0, 2])
def test_gpt2_neurons_match_direct_computation(tiny_gpt2_dir: Path, layer: int) -> None:
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    assert (model.family, model.n_layers, model.n_neurons) == ("gpt2", 3, 128)
    batched = model.activations(TEXTS, layer)  # padded batch
    for text, acts in zip(TEXTS, batched, strict=True):
        expected = _direct_gpt2(tiny_gpt2_dir, text, layer)
        assert acts.shape == expected.shape
        torch.testing.assert_close(acts, expected, atol=1e-5, rtol=1e-4)
    # BOS is prepended by the adapter and shown as a token.
    assert model.tokenize("Hello!")[0] == "<|endoftext|>"


@pytest.mark.parametrize("layer", [0, 2])
def test_llama_neurons_match_direct_computation(tiny_llama_dir: Path, layer: int) -> None:
    model = load_model(str(tiny_llama_dir), device="cpu")
    assert (model.family, model.n_layers, model.n_neurons) == ("llama", 3, 48)
    for text, acts in zip(TEXTS, model.activations(TEXTS, layer), strict=True):
        torch.testing.assert_close(acts, _direct_llama(tiny_llama_dir, text, layer), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_minilm_neurons_match_direct_computation(minilm: NeuronModel, layer: int) -> None:
    assert (minilm.family, minilm.n_layers, minilm.n_neurons) == ("bert", 6, 1536)
    for text, acts in zip(TEXTS, minilm.activations(TEXTS, layer), strict=True):
        torch.testing.assert_close(acts, _direct_bert(minilm, text, layer), atol=1e-4, rtol=1e-4)


def test_neuron_selection_and_record(minilm: NeuronModel) -> None:
    full = minilm.activations(["The cat sat."], 3)[0]
    picked = minilm.activations(["The cat sat."], 3, [7, 1535])[0]
    torch.testing.assert_close(picked, full[:, [7, 1535]])
    record = minilm.record(3, 7, "The cat sat.")
    assert record.tokens == ["[CLS]", "the", "cat", "sat", ".", "[SEP]"]
    assert record.activations == pytest.approx(full[:, 7].tolist())


def test_window_activations_cut_special_tokens(tiny_gpt2_dir: Path) -> None:
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    ids = model.encode("The cat sat on the mat and looked at the dog.")
    windows = torch.tensor([ids[:8], ids[2:10]], dtype=torch.int32)
    acts = model.window_activations(windows, 1)
    assert acts.shape == (2, 8, 128)
    direct = model.activations([model.tokenizer.decode(ids[:8])], 1)[0]
    torch.testing.assert_close(acts[0], direct[1:])  # position 0 is the BOS the window path adds too


def test_load_model_is_cached_per_process(minilm: NeuronModel) -> None:
    assert load_model("minilm-l6", device="cpu") is minilm


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.activations(["x"], 6), "layers 0-5"),
        (lambda m: m.activations(["x"], -1), "layers 0-5"),
        (lambda m: m.record(3, 1536, "x"), "neurons 0-1535"),
        (lambda m: m.activations(["x"], 3, range(10, 2000)), "neurons 0-1535"),
        (lambda m: m.record(3, 0, "   "), "text is empty"),
        (lambda m: m.tokenize("word " * 600), "at most 510 tokens"),
    ],
)
def test_bad_input_names_the_valid_range(minilm: NeuronModel, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match=message):
        call(minilm)


def test_unknown_and_missing_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*minilm-l6"):
        resolve("nope", tmp_path)
    with pytest.raises(ModelError, match="gpt2 weights are not in"):
        resolve("gpt2", tmp_path, pull=False)  # offline here: no hub download in tests
    with pytest.raises(ModelError, match="not pulled yet"):
        resolve("smollm2-135m", tmp_path, pull=False)
    (tmp_path / "weird").mkdir()
    (tmp_path / "weird" / "config.json").write_text('{"model_type": "t5"}')
    with pytest.raises(ModelError, match=r"t5.*not supported"):
        resolve(str(tmp_path / "weird"))
