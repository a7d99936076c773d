"""Every hook site ``capture`` reads equals a hand computation from the block's own modules,
for GPT-2, Llama and BERT (MiniLM); the default site is still the neuron vector."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from engine.models import ModelError, NeuronModel, load_model
from engine.sae import SITES
from tests.model_fixtures import tiny_gpt2_dir, tiny_llama_dir

__all__ = ["tiny_gpt2_dir", "tiny_llama_dir"]  # fixtures, imported for pytest

TEXT = "Numbers like 12 and 345, then the cat sat on the mat."


def _gpt2_sites(path: Path, layer: int) -> dict[str, torch.Tensor]:
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    ids = torch.tensor([[tok.bos_token_id, *tok(TEXT)["input_ids"]]])
    with torch.no_grad():
        h = model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.h[layer]
        mid = h + block.attn(block.ln_1(h))[0]  # sdpa attention is causal when given no mask
        post = block.mlp.act(block.mlp.c_fc(block.ln_2(mid)))
        out = block.mlp.c_proj(post)
    normed = block.ln_2(mid)
    return {
        "resid_pre": h, "mlp_in": mid, "mlp_in_normed": normed, "mlp_post": post, "mlp_out": out,
        "resid_post": mid + out,
    }  # fmt: skip


def _llama_sites(path: Path, layer: int) -> dict[str, torch.Tensor]:
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    ids = torch.tensor([tok(TEXT)["input_ids"]])
    with torch.no_grad():
        h = model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.layers[layer]
        cos_sin = model.rotary_emb(h, torch.arange(ids.shape[1])[None])
        attn = block.self_attn(block.input_layernorm(h), position_embeddings=cos_sin, attention_mask=None)[0]
        mid = h + attn
        x = block.post_attention_layernorm(mid)
        post = block.mlp.act_fn(block.mlp.gate_proj(x)) * block.mlp.up_proj(x)
        out = block.mlp.down_proj(post)
    return {
        "resid_pre": h, "mlp_in": mid, "mlp_in_normed": x, "mlp_post": post, "mlp_out": out,
        "resid_post": mid + out,
    }  # fmt: skip


def _bert_sites(model: NeuronModel, layer: int) -> dict[str, torch.Tensor]:
    ids = torch.tensor([model.tokenizer(TEXT)["input_ids"]])
    with torch.no_grad():
        h = model.model(input_ids=ids, output_hidden_states=True).hidden_states[layer]
        block = model.model.encoder.layer[layer]
        attn = block.attention(h)[0]
        post = block.intermediate(attn)
        out = block.output.dense(post)
        resid = block.output.LayerNorm(out + attn)
    # BERT normalises after the sum: the MLP reads the attention block's output as it is.
    return {
        "resid_pre": h, "mlp_in": attn, "mlp_in_normed": attn, "mlp_post": post, "mlp_out": out,
        "resid_post": resid,
    }  # fmt: skip


def _check(model: NeuronModel, expected: dict[str, torch.Tensor], layer: int) -> None:
    assert set(expected) == set(SITES)
    for site, want in expected.items():
        got = model.activations([TEXT], layer, site=site)[0]
        assert got.shape == want[0].shape, site
        assert got.shape[-1] == model.site_width(site)
        torch.testing.assert_close(got, want[0].float(), atol=1e-4, rtol=1e-4, msg=site)
    # Sites differ from each other (a hook on the wrong module would repeat one of them).
    assert not torch.allclose(expected["mlp_in"], expected["resid_post"])
    if model.family != "bert":
        assert not torch.allclose(expected["mlp_in"], expected["mlp_in_normed"])


@pytest.mark.parametrize("layer", [0, 2])
def test_gpt2_sites_match_hand_computation(tiny_gpt2_dir: Path, layer: int) -> None:
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    _check(model, _gpt2_sites(tiny_gpt2_dir, layer), layer)


@pytest.mark.parametrize("layer", [0, 2])
def test_llama_sites_match_hand_computation(tiny_llama_dir: Path, layer: int) -> None:
    model = load_model(str(tiny_llama_dir), device="cpu")
    _check(model, _llama_sites(tiny_llama_dir, layer), layer)


def test_minilm_sites_match_hand_computation() -> None:
    model = load_model("minilm-l6", device="cpu")
    assert (model.site_width("mlp_post"), model.site_width("resid_post")) == (1536, 384)
    _check(model, _bert_sites(model, 3), 3)


def test_window_activations_take_a_site_and_select_within_its_width(tiny_gpt2_dir: Path) -> None:
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    windows = torch.tensor([model.encode(TEXT)[:8]])
    full = model.window_activations(windows, 1, site="resid_post")
    assert full.shape == (1, 8, model.d_model)
    picked = model.window_activations(windows, 1, [3, 0], site="resid_post")
    torch.testing.assert_close(picked, full[..., [3, 0]])
    # The default is the neuron vector, unchanged.
    assert model.window_activations(windows, 1).shape == (1, 8, model.n_neurons)
    with pytest.raises(ModelError, match="resid_post dimension 32 out of range"):
        model.window_activations(windows, 1, [32], site="resid_post")
    with pytest.raises(ModelError, match="site 'attn_out' is not one of"):
        model.window_activations(windows, 1, site="attn_out")
