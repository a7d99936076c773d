"""SparseAutoencoder's encode/decode, SAELens' on-disk format (both config shapes), hook names,
the refusals, and SAEs loaded for a tiny GPT-2, a tiny Llama and MiniLM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.models import load_model
from engine.sae import (
    HookNameError,
    HookSite,
    SaeError,
    SparseAutoencoder,
    check_fits,
    hook_site,
    load_sae,
    save_sae,
)
from tests.model_fixtures import tiny_gpt2_dir, tiny_llama_dir

__all__ = ["tiny_gpt2_dir", "tiny_llama_dir"]  # fixtures, imported for pytest


def random_sae(
    d_in: int, d_sae: int, k: int | None, hook: HookSite, seed: int = 0, **kw: Any
) -> SparseAutoencoder:
    sae = SparseAutoencoder(d_in, d_sae, k, hook, **kw)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return sae


@torch.no_grad()
def manual_encode(sae: SparseAutoencoder, x: torch.Tensor) -> torch.Tensor:
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    if sae.k is None:
        return pre.clamp_min(0)
    out = torch.zeros_like(pre)
    for row in range(pre.shape[0]):
        top = sorted(range(pre.shape[1]), key=lambda j: -float(pre[row, j]))[: sae.k]
        for j in top:
            out[row, j] = max(0.0, float(pre[row, j]))
    return out


def test_topk_encode_keeps_exactly_k_latents_and_decode_is_linear() -> None:
    sae = random_sae(16, 64, 5, HookSite(1))
    x = torch.randn(40, 16)
    z = sae.encode(x)
    assert z.shape == (40, 64)
    assert ((z > 0).sum(dim=-1) == 5).all()
    assert (z >= 0).all()
    torch.testing.assert_close(z, manual_encode(sae, x))
    torch.testing.assert_close(sae.decode(z), z @ sae.W_dec + sae.b_dec)
    torch.testing.assert_close(sae(x), sae.decode(z))
    # Leading dimensions pass through.
    assert sae.encode(x.view(4, 10, 16)).shape == (4, 10, 64)


def test_relu_sae_keeps_every_positive_pre_activation() -> None:
    sae = random_sae(8, 32, None, HookSite(0, "resid_post"))
    x = torch.randn(20, 8)
    z = sae.encode(x)
    torch.testing.assert_close(z, manual_encode(sae, x))
    assert (z > 0).sum() > 20 * 5  # far more than a small k would keep
    with pytest.raises(SaeError, match="input has width 9; this SAE reads 8"):
        sae.encode(torch.randn(2, 9))


def test_round_trip_in_saelens_format(tmp_path: Path) -> None:
    sae = random_sae(16, 64, 4, HookSite(2, "mlp_post"), meta={"model_name": "gpt2", "report": {"fvu": 0.1}})
    save_sae(sae, tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert (cfg["architecture"], cfg["d_in"], cfg["d_sae"], cfg["k"]) == ("topk", 16, 64, 4)
    assert cfg["metadata"]["hook_name"] == "blocks.2.mlp.hook_post"
    assert cfg["metadata"]["model_name"] == "gpt2"
    assert (cfg["hook_layer"], cfg["activation_fn"], cfg["activation_fn_kwargs"]) == (2, "topk", {"k": 4})
    tensors = load_file(str(tmp_path / "sae" / "sae_weights.safetensors"))
    assert {name: list(t.shape) for name, t in tensors.items()} == {
        "W_enc": [16, 64],
        "b_enc": [64],
        "W_dec": [64, 16],
        "b_dec": [16],
    }
    back = load_sae(tmp_path / "sae")
    assert (back.d_in, back.d_sae, back.k, back.hook) == (16, 64, 4, HookSite(2, "mlp_post"))
    assert back.meta["report"] == {"fvu": 0.1}
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        torch.testing.assert_close(getattr(back, name), getattr(sae, name))
    x = torch.randn(10, 16)
    torch.testing.assert_close(back.encode(x), sae.encode(x))


def _write(directory: Path, cfg: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cfg.json").write_text(json.dumps(cfg))
    save_file(tensors, str(directory / "sae_weights.safetensors"))
    return directory


def _tensors(d_in: int = 8, d_sae: int = 24, seed: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    shapes = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    return {name: torch.randn(shape, generator=gen) for name, shape in shapes.items()}


def test_reads_a_pre_6_config_with_legacy_key_names(tmp_path: Path) -> None:
    cfg = {
        "architecture": "standard",
        "d_in": 8,
        "d_sae": 24,
        "hook_point": "blocks.1.hook_resid_post",
        "hook_point_layer": 1,
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": 3},
        "model_name": "tiny",
        "normalize_activations": False,
        "dtype": "torch.float16",
    }
    tensors = {name: t.half() for name, t in _tensors().items()}
    sae = load_sae(_write(tmp_path / "old", cfg, tensors))
    assert (sae.k, sae.hook, sae.meta["model_name"]) == (3, HookSite(1, "resid_post"), "tiny")
    assert sae.W_enc.dtype == torch.float32
    assert ((sae.encode(torch.randn(5, 8)) > 0).sum(-1) <= 3).all()


def test_expected_average_only_in_is_folded_into_the_weights(tmp_path: Path) -> None:
    tensors = _tensors()
    cfg = {
        "architecture": "standard",
        "d_in": 8,
        "d_sae": 24,
        "apply_b_dec_to_input": True,
        "normalize_activations": "expected_average_only_in",
        "metadata": {"sae_lens_version": "6.5.0", "hook_name": "blocks.0.hook_mlp_out", "model_name": "m"},
    }
    directory = _write(tmp_path / "scaled", cfg, tensors)
    with pytest.raises(SaeError, match="scaling factor is not given"):
        load_sae(directory)
    (directory / "activation_scaler.json").write_text(json.dumps({"scaling_factor": 2.5}))
    sae = load_sae(directory)
    x = torch.randn(6, 8)
    # What SAELens computes: scale the input, encode, decode, unscale.
    pre = (2.5 * x - tensors["b_dec"]) @ tensors["W_enc"] + tensors["b_enc"]
    z = pre.clamp_min(0)
    torch.testing.assert_close(sae.encode(x), z, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae(x), (z @ tensors["W_dec"] + tensors["b_dec"]) / 2.5, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["layer_norm", "constant_norm_rescale"])
def test_per_token_normalisation_is_undone_on_the_way_out(mode: str) -> None:
    sae = random_sae(8, 24, None, HookSite(0), normalize_activations=mode)
    x = 5 * torch.randn(4, 8) + 2
    if mode == "layer_norm":
        mu, sd = x.mean(-1, keepdim=True), x.std(-1, keepdim=True) + 1e-5
    else:
        mu, sd = torch.zeros(4, 1), x.norm(dim=-1, keepdim=True) / 8**0.5
    z = manual_encode(sae, (x - mu) / sd)
    torch.testing.assert_close(sae.encode(x), z, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sae(x), (z @ sae.W_dec + sae.b_dec) * sd + mu, atol=1e-4, rtol=1e-4)
    with pytest.raises(SaeError, match="needs the input"):
        sae.decode(z)


def _good_cfg() -> dict[str, Any]:
    return {
        "architecture": "topk",
        "k": 2,
        "d_in": 8,
        "d_sae": 24,
        "metadata": {"sae_lens_version": "6.0.0", "hook_name": "blocks.0.mlp.hook_post"},
    }


BAD_CFGS = [
    ({"architecture": "jumprelu"}, "architecture 'jumprelu' is not supported"),
    ({"architecture": "gated"}, "architecture 'gated' is not supported"),
    ({"k": 0}, "positive integer k"),
    ({"d_sae": "24"}, "d_sae must be a positive integer"),
    ({"normalize_activations": "whiten"}, "normalize_activations 'whiten' is not supported"),
    ({"reshape_activations": "hook_z"}, "per-head"),
    ({"metadata": {"hook_name": "blocks.0.attn.hook_z"}}, "per-head|not a site"),
    ({"metadata": {"hook_name": "blocks.0.ln1.hook_normalized"}}, "not a site we can read"),
    ({"metadata": {}}, "no hook_name"),
    ({"hook_layer": 4}, "hook_layer 4 disagrees"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CFGS)
def test_refuses_what_it_cannot_read_with_the_reason(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    cfg = _good_cfg() | change
    with pytest.raises(SaeError, match=message):
        load_sae(_write(tmp_path / "bad", cfg, _tensors()))


def test_refuses_malformed_directories(tmp_path: Path) -> None:
    with pytest.raises(SaeError, match="not a directory"):
        load_sae(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SaeError, match=r"no cfg\.json"):
        load_sae(tmp_path / "empty")
    (tmp_path / "empty" / "cfg.json").write_text("{not json")
    with pytest.raises(SaeError, match="not valid JSON"):
        load_sae(tmp_path / "empty")
    (tmp_path / "empty" / "cfg.json").write_text(json.dumps(_good_cfg()))
    with pytest.raises(SaeError, match=r"no sae_weights\.safetensors"):
        load_sae(tmp_path / "empty")
    (tmp_path / "empty" / "sae_weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(SaeError, match="not a readable safetensors"):
        load_sae(tmp_path / "empty")
    no_b_enc = {k: v for k, v in _tensors().items() if k != "b_enc"}
    with pytest.raises(SaeError, match="missing tensors b_enc"):
        load_sae(_write(tmp_path / "a", _good_cfg(), no_b_enc))
    with pytest.raises(SaeError, match=r"W_enc has shape \[8, 20\], expected \[8, 24\]"):
        load_sae(_write(tmp_path / "b", _good_cfg(), _tensors() | {"W_enc": torch.zeros(8, 20)}))
    with pytest.raises(SaeError, match="unexpected tensors threshold"):
        load_sae(_write(tmp_path / "c", _good_cfg(), _tensors() | {"threshold": torch.zeros(24)}))


HOOK_NAMES = [
    ("blocks.3.mlp.hook_post", None, HookSite(3, "mlp_post")),
    ("blocks.0.hook_mlp_in", None, HookSite(0, "mlp_in")),
    ("blocks.0.hook_resid_mid", None, HookSite(0, "mlp_in")),
    ("blocks.11.hook_mlp_out", None, HookSite(11, "mlp_out")),
    ("blocks.2.hook_resid_pre", None, HookSite(2, "resid_pre")),
    ("blocks.2.hook_resid_post", None, HookSite(2, "resid_post")),
    ("transformer.h.5.mlp.act", "gpt2", HookSite(5, "mlp_post")),
    ("transformer.h.5.mlp", "gpt2", HookSite(5, "mlp_out")),
    ("h.5", "gpt2", HookSite(5, "resid_post")),
    ("model.layers.7", "llama", HookSite(7, "resid_post")),
    ("model.layers.7.mlp", None, HookSite(7, "mlp_out")),
    ("model.layers.7.mlp.down_proj", "llama", HookSite(7, "mlp_out")),
    ("encoder.layer.3.intermediate", "bert", HookSite(3, "mlp_post")),
    ("bert.encoder.layer.3.output", None, HookSite(3, "resid_post")),
    ("encoder.layer.3.output.dense", "bert", HookSite(3, "mlp_out")),
    ("encoder.layer.3.attention", "bert", HookSite(3, "mlp_in")),
    ("blocks.6.ln2.hook_normalized", None, HookSite(6, "mlp_in_normed")),
    ("blocks.6.mlp.hook_in", "bert", HookSite(6, "mlp_in_normed")),
    ("transformer.h.2.ln_2", "gpt2", HookSite(2, "mlp_in_normed")),
    ("model.layers.4.post_attention_layernorm", "llama", HookSite(4, "mlp_in_normed")),
]


@pytest.mark.parametrize(("name", "family", "site"), HOOK_NAMES)
def test_hook_names_map_to_sites(name: str, family: str | None, site: HookSite) -> None:
    assert hook_site(name, family) == site


def test_hook_names_of_another_family_or_no_site_are_refused() -> None:
    with pytest.raises(HookNameError):
        hook_site("model.layers.7.mlp", "bert")
    with pytest.raises(HookNameError):
        hook_site("blocks.1.mlp.hook_pre")
    with pytest.raises(HookNameError):
        HookSite(1, "attn_out")
    with pytest.raises(HookNameError, match="ln2 normalises the block's output"):
        hook_site("blocks.2.ln2.hook_normalized", "bert")
    assert HookSite(4, "mlp_in").hook_name == "blocks.4.hook_mlp_in"


def _loaded_for(model_name: str, tmp_path: Path, hook_name: str, family: str) -> None:
    """Save an SAE for ``hook_name`` the way SAELens would, load it, run it on the model's site."""
    model = load_model(model_name, device="cpu")
    site = hook_site(hook_name, family)
    width = model.site_width(site.site)
    tensors = _tensors(width, 3 * width, seed=site.layer)
    cfg = {
        "architecture": "topk",
        "k": 4,
        "d_in": width,
        "d_sae": 3 * width,
        "metadata": {"sae_lens_version": "6.1.0", "hook_name": hook_name, "model_name": model_name},
    }
    sae = load_sae(_write(tmp_path / hook_name, cfg, tensors), family=family)
    check_fits(sae, model)
    acts = model.activations(["The cat sat on the mat, 12 times."], sae.hook.layer, site=sae.hook.site)[0]
    z = sae.encode(acts)
    assert ((z > 0).sum(-1) <= 4).all() and (z > 0).any()
    torch.testing.assert_close(z, manual_encode(sae, acts), atol=1e-4, rtol=1e-4)
    wrong = SparseAutoencoder(width + 1, 8, 2, sae.hook)
    with pytest.raises(SaeError, match=f"has {width} there"):
        check_fits(wrong, model)


GPT2_HOOKS = ["blocks.1.mlp.hook_post", "blocks.2.hook_resid_post", "transformer.h.0.mlp"]


@pytest.mark.parametrize("hook", GPT2_HOOKS)
def test_loaded_sae_reads_tiny_gpt2(tiny_gpt2_dir: Path, tmp_path: Path, hook: str) -> None:
    _loaded_for(str(tiny_gpt2_dir), tmp_path, hook, "gpt2")


@pytest.mark.parametrize("hook", ["blocks.1.mlp.hook_post", "model.layers.2", "blocks.0.hook_mlp_in"])
def test_loaded_sae_reads_tiny_llama(tiny_llama_dir: Path, tmp_path: Path, hook: str) -> None:
    _loaded_for(str(tiny_llama_dir), tmp_path, hook, "llama")


@pytest.mark.parametrize("hook", ["blocks.3.mlp.hook_post", "encoder.layer.3.output.dense"])
def test_loaded_sae_reads_minilm(tmp_path: Path, hook: str) -> None:
    _loaded_for("minilm-l6", tmp_path, hook, "bert")
