"""Transcoders: SAELens' ``transcoder`` / ``skip_transcoder`` on disk, their latents read at the
INPUT site (mlp_in) and their decoder writing the output site (mlp_out), mined, shown in
advanced mode and related like an SAE's — on a tiny GPT-2, a tiny Llama and MiniLM (BERT)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.activations import text_activations
from engine.corpus import make_windows
from engine.mining import Miner
from engine.models import ModelError, NeuronModel, load_model
from engine.sae import HookSite, SaeError, SparseAutoencoder, check_fits, load_sae, save_sae
from engine.units import LatentModel, decoder_neighbours, install_sae, load_unit_model, sae_summary
from tests.model_fixtures import tiny_gpt2_dir, tiny_llama_dir
from tests.support.small_sae import build_transcoder

__all__ = ["tiny_gpt2_dir", "tiny_llama_dir"]  # fixtures, imported for pytest

TEXT = "The cat sat on the mat, 12 times."


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2_dir: Path) -> NeuronModel:
    return load_model(str(tiny_gpt2_dir), device="cpu")


@pytest.fixture(scope="module")
def llama(tiny_llama_dir: Path) -> NeuronModel:
    return load_model(str(tiny_llama_dir), device="cpu")


@pytest.fixture(scope="module")
def minilm() -> NeuronModel:
    return load_model("minilm-l6", device="cpu")


@pytest.fixture(params=["gpt2", "llama", "minilm"])
def model(request: pytest.FixtureRequest) -> NeuronModel:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.mark.parametrize("skip", [False, True])
def test_a_transcoder_saved_in_saelens_format_reads_mlp_in_and_writes_mlp_out(
    model: NeuronModel, tmp_path: Path, skip: bool
) -> None:
    layer = 1
    built = build_transcoder(model, layer, d_sae=40, skip=skip)
    directory = save_sae(built, tmp_path / "tc")
    cfg = json.loads((directory / "cfg.json").read_text())
    assert cfg["architecture"] == ("skip_transcoder" if skip else "transcoder")
    assert cfg["metadata"]["hook_name"] == f"blocks.{layer}.hook_mlp_in"
    assert cfg["metadata"]["hook_name_out"] == f"blocks.{layer}.hook_mlp_out"
    assert (cfg["d_in"], cfg["d_out"], cfg["apply_b_dec_to_input"]) == (model.d_model, model.d_model, False)
    shapes = {
        name: list(t.shape) for name, t in load_file(str(directory / "sae_weights.safetensors")).items()
    }
    expected = {
        "W_enc": [model.d_model, 40],
        "b_enc": [40],
        "W_dec": [40, model.d_model],
        "b_dec": [model.d_model],
    }
    assert shapes == (expected | {"W_skip": [model.d_model, model.d_model]} if skip else expected)

    tc = load_sae(directory, family=model.family)
    assert tc.is_transcoder and tc.kind == "transcoder"
    assert (tc.hook, tc.hook_out) == (HookSite(layer, "mlp_in"), HookSite(layer, "mlp_out"))
    check_fits(tc, model)
    x_in = model.activations([TEXT], layer, site="mlp_in")[0]
    x_out = model.activations([TEXT], layer, site="mlp_out")[0]
    # SAELens' transcoder: ReLU(x W_enc + b_enc), no b_dec taken off the input ...
    z = torch.relu(x_in @ built.W_enc + built.b_enc)
    torch.testing.assert_close(tc.encode(x_in), z, atol=1e-5, rtol=1e-5)
    assert (z > 0).any() and (z == 0).any()
    # ... decoded to the output site's width (plus the skip path).
    want = z @ built.W_dec + built.b_dec + (x_in @ built.W_skip.T if built.W_skip is not None else 0)
    torch.testing.assert_close(tc(x_in), want, atol=1e-4, rtol=1e-4)
    assert tc(x_in).shape == x_out.shape

    # Its latents as units: encoded from mlp_in (not mlp_post, where an SAE's would be read).
    units = LatentModel(model, tc, "tc")
    assert (units.site, units.kind, units.n_neurons) == ("mlp_in", "transcoder", 40)
    per_text = units.activations([TEXT], layer)[0]
    torch.testing.assert_close(per_text, z, atol=1e-5, rtol=1e-5)
    best = int(z.amax(0).argmax())
    answer = text_activations(units, layer, best, TEXT)  # advanced mode
    assert answer["activations"] == pytest.approx(z[:, best].tolist(), abs=1e-5)
    assert max(answer["activations"]) > 0
    summary = sae_summary(tc)
    assert (summary["kind"], summary["site"], summary["site_out"]) == ("transcoder", "mlp_in", "mlp_out")


@pytest.mark.parametrize("hook_in", ["blocks.{L}.ln2.hook_normalized", "blocks.{L}.mlp.hook_in"])
def test_a_transcoder_reading_the_mlps_normalised_input(
    model: NeuronModel, tmp_path: Path, hook_in: str
) -> None:
    """Most published transcoders read what the MLP itself reads (after its LayerNorm):
    SAELens names it ``ln2.hook_normalized`` (or circuit-tracer's ``mlp.hook_in``)."""
    layer = 2
    built = build_transcoder(model, layer, d_sae=24, site_in="mlp_in_normed")
    directory = save_sae(built, tmp_path / "tc")
    cfg = json.loads((directory / "cfg.json").read_text())
    cfg["metadata"]["hook_name"] = hook_in.format(L=layer)
    (directory / "cfg.json").write_text(json.dumps(cfg))
    if model.family == "bert" and "ln2" in hook_in:
        with pytest.raises(SaeError, match="ln2 normalises the block's output"):
            load_sae(directory, family=model.family)
        return
    tc = load_sae(directory, family=model.family)
    assert tc.hook == HookSite(layer, "mlp_in_normed")
    units = LatentModel(model, tc, "tc")
    x = model.activations([TEXT], layer, site="mlp_in_normed")[0]
    if model.family != "bert":  # pre-LN: the normalised input is not the residual stream
        assert not torch.allclose(x, model.activations([TEXT], layer, site="mlp_in")[0])
    z = torch.relu(x @ built.W_enc + built.b_enc)
    torch.testing.assert_close(units.activations([TEXT], layer)[0], z, atol=1e-5, rtol=1e-5)
    assert (z > 0).any()


def test_transcoder_latents_mine_like_neurons(gpt2: NeuronModel) -> None:
    """Mining keeps exactly what a brute-force pass over the same windows finds at mlp_in."""
    tc = build_transcoder(gpt2, 2, d_sae=24)
    units = LatentModel(gpt2, tc, "tc")
    windows = make_windows(gpt2, None, window=16, max_tokens=16 * 30)
    summaries = Miner(units, windows, 2, range(0, 24), batch_size=7, top_k=4, n_random=2).run()
    x = gpt2.window_activations(windows, 2, site="mlp_in")
    brute = torch.relu(x @ tc.W_enc + tc.b_enc)
    win_max = brute.amax(dim=1)
    assert sum(s.max_activation > 0 for s in summaries) > 12  # most latents fire somewhere
    for i, s in enumerate(summaries):
        expected = win_max[:, i].sort(descending=True).values[:4].tolist()
        assert [r.max_activation for r in s.top] == pytest.approx(expected, abs=1e-4)
        assert len(s.random) == 2


def test_related_transcoder_latents_by_their_output_directions(gpt2: NeuronModel) -> None:
    tc = build_transcoder(gpt2, 0, d_sae=6)
    with torch.no_grad():
        tc.W_dec.zero_()
        tc.W_dec[0, 0], tc.W_dec[1, 0], tc.W_dec[1, 1], tc.W_dec[2, 5] = 1.0, 1.0, 0.1, 3.0
        tc.W_dec[3:, 7] = 1.0
    near = decoder_neighbours(tc, list(range(6)), 1)
    assert near[0][0][0] == 1 and near[2][0][1] == pytest.approx(0.0)
    assert near[3][0] == (4, pytest.approx(1.0))


def test_sae_show_says_transcoder(
    gpt2: NeuronModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import Settings
    from server.cli.main import main

    made = save_sae(build_transcoder(gpt2, 1, d_sae=8, skip=True), tmp_path / "tc")
    settings = Settings(data_dir=tmp_path / "data")
    assert main(["sae", "show", str(made)], settings) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.endswith(
        "transcoder blocks.1.hook_mlp_in -> blocks.1.hook_mlp_out: "
        "32 -> 8 latents (ReLU) -> 32 + skip connection"
    )
    assert main(["sae", "show", "--json", str(made)], settings) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["kind"], shown["hook_name_out"], shown["d_out"]) == (
        "transcoder",
        "blocks.1.hook_mlp_out",
        32,
    )


def test_installed_transcoder_is_a_campaign_source(
    gpt2: NeuronModel, tiny_gpt2_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    made = save_sae(build_transcoder(gpt2, 1, d_sae=8, skip=True), tmp_path / "gpt2-tc1")
    assert install_sae(data, str(made)) == "gpt2-tc1"
    units = load_unit_model(str(tiny_gpt2_dir), "gpt2-tc1", device="cpu", data_dir=data)
    assert isinstance(units, LatentModel) and (units.kind, units.layer, units.site) == (
        "transcoder",
        1,
        "mlp_in",
    )
    assert "transcoder 'gpt2-tc1'" in repr(units)
    with pytest.raises(ModelError, match="transcoder gpt2-tc1 reads layer 1"):
        units.check_layer(2)
    with pytest.raises(ModelError, match="transcoder gpt2-tc1 has latents 0-7"):
        text_activations(units, 1, 8, TEXT)


# -- SAELens' older flat config, and the refusals ----------------------------------------------


def _tc_tensors(
    d_in: int = 8, d_sae: int = 24, d_out: int = 12, skip: bool = False
) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    shapes = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_out), "b_dec": (d_out,)}
    if skip:
        shapes["W_skip"] = (d_out, d_in)
    return {name: torch.randn(shape, generator=gen) for name, shape in shapes.items()}


def _tc_cfg(**changes: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "architecture": "transcoder",
        "d_in": 8,
        "d_sae": 24,
        "d_out": 12,
        "apply_b_dec_to_input": False,
        "normalize_activations": "none",
        "metadata": {
            "sae_lens_version": "6.18.0",
            "hook_name": "blocks.2.hook_mlp_in",
            "hook_name_out": "blocks.2.hook_mlp_out",
            "hook_head_index_out": None,
        },
    }
    cfg.update(changes)
    return cfg


def _write(directory: Path, cfg: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cfg.json").write_text(json.dumps(cfg))
    save_file(tensors, str(directory / "sae_weights.safetensors"))
    return directory


def test_reads_the_flat_config_of_early_saelens_transcoders(tmp_path: Path) -> None:
    cfg = {
        "architecture": "skip_transcoder",
        "d_in": 8,
        "d_sae": 24,
        "d_out": 12,
        "hook_name": "blocks.2.hook_resid_mid",
        "hook_layer": 2,
        "hook_name_out": "blocks.2.hook_mlp_out",
        "hook_layer_out": 2,
        "hook_head_index_out": None,
        "apply_b_dec_to_input": False,
        "normalize_activations": "none",
    }
    tensors = _tc_tensors(skip=True)
    tc = load_sae(_write(tmp_path / "flat", cfg, tensors))
    assert (tc.hook, tc.hook_out, tc.d_out, tc.architecture) == (
        HookSite(2, "mlp_in"),
        HookSite(2, "mlp_out"),
        12,
        "skip_transcoder",
    )
    x = torch.randn(5, 8)
    z = torch.relu(x @ tensors["W_enc"] + tensors["b_enc"])
    out = z @ tensors["W_dec"] + tensors["b_dec"] + x @ tensors["W_skip"].T
    torch.testing.assert_close(tc(x), out, atol=1e-5, rtol=1e-5)
    with pytest.raises(SaeError, match="needs the input"):
        tc.decode(z)


BAD_TRANSCODERS: list[tuple[dict[str, Any], dict[str, torch.Tensor], str]] = [
    ({}, _tc_tensors() | {"W_dec": torch.zeros(24, 8)}, r"W_dec has shape \[24, 8\], expected \[24, 12\]"),
    ({}, _tc_tensors() | {"b_dec": torch.zeros(8)}, r"b_dec has shape \[8\], expected \[12\]"),
    ({"architecture": "skip_transcoder"}, _tc_tensors(), "missing tensors W_skip"),
    (
        {"architecture": "skip_transcoder"},
        _tc_tensors(skip=True) | {"W_skip": torch.zeros(8, 12)},
        r"W_skip has shape",
    ),
    ({}, _tc_tensors(skip=True), "unexpected tensors W_skip"),
    ({"d_out": 0}, _tc_tensors(), "d_out must be a positive integer"),
    ({"apply_b_dec_to_input": True}, _tc_tensors(), "apply_b_dec_to_input must be false"),
    ({"normalize_activations": "layer_norm"}, _tc_tensors(), "not supported for a transcoder"),
    ({"architecture": "jumprelu_transcoder"}, _tc_tensors(), "'jumprelu_transcoder' is not supported"),
    ({"hook_layer_out": 3}, _tc_tensors(), "hook_layer_out 3 disagrees with hook_name_out"),
]


@pytest.mark.parametrize(("changes", "tensors", "message"), BAD_TRANSCODERS)
def test_a_misshapen_transcoder_is_refused_with_the_reason(
    tmp_path: Path, changes: dict[str, Any], tensors: dict[str, torch.Tensor], message: str
) -> None:
    with pytest.raises(SaeError, match=message):
        load_sae(_write(tmp_path / "bad", _tc_cfg(**changes), tensors))


def test_a_transcoder_without_its_output_hook_or_of_the_wrong_width_is_refused(
    tmp_path: Path, gpt2: NeuronModel
) -> None:
    cfg = _tc_cfg()
    del cfg["metadata"]["hook_name_out"]
    with pytest.raises(SaeError, match="no hook_name_out"):
        load_sae(_write(tmp_path / "no-out", cfg, _tc_tensors()))
    cfg = _tc_cfg(metadata={**_tc_cfg()["metadata"], "hook_name_out": "blocks.2.attn.hook_z"})
    with pytest.raises(SaeError, match="is not a site we can read"):
        load_sae(_write(tmp_path / "attn-out", cfg, _tc_tensors()))
    # Right shapes for themselves, wrong for the model: d_out 12 where the tiny GPT-2 has 32.
    tc = load_sae(_write(tmp_path / "narrow", _tc_cfg(d_in=32), _tc_tensors(d_in=32)))
    with pytest.raises(
        SaeError, match=r"this transcoder writes 12 values at blocks\.2\.hook_mlp_out; .* has 32"
    ):
        check_fits(tc, gpt2)
    with pytest.raises(ModelError, match="writes 12 values"):
        LatentModel(gpt2, tc, "narrow")
    with pytest.raises(SaeError, match="ReLU latents"):
        SparseAutoencoder(
            8, 16, 4, HookSite(0, "mlp_in"), apply_b_dec_to_input=False, hook_out=HookSite(0, "mlp_out")
        )
