"""LatentModel: an SAE's latents read like neurons — same windows, same batching, same answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.activations import batch_text_activations, text_activations
from engine.corpus import make_windows
from engine.mining import Miner
from engine.models import ModelError, NeuronModel, load_model
from engine.sae import HookSite, SparseAutoencoder, load_sae, save_sae
from engine.units import LatentModel, decoder_neighbours, install_sae, load_unit_model, sae_dir
from tests.support.small_sae import build_sae

LAYER = 3


@pytest.fixture(scope="module")
def minilm() -> NeuronModel:
    return load_model("minilm-l6", device="cpu")


@pytest.fixture(scope="module")
def latents(minilm: NeuronModel) -> LatentModel:
    return LatentModel(minilm, build_sae(minilm, LAYER, d_sae=48, k=6), "test-sae")


def test_latents_are_the_encoder_of_the_site(minilm: NeuronModel, latents: LatentModel) -> None:
    windows = make_windows(minilm, None, window=32, max_tokens=32 * 8)
    x = minilm.window_activations(windows, LAYER, site="mlp_post")
    z = latents.window_activations(windows, LAYER)
    assert z.shape == (8, 32, 48)
    torch.testing.assert_close(z, latents.sae.encode(x), atol=1e-5, rtol=1e-5)
    assert ((z > 0).sum(-1) <= 6).all() and (z > 0).float().mean() > 0.01  # sparse, and alive
    picked = latents.window_activations(windows, LAYER, [5, 2])
    torch.testing.assert_close(picked, z[..., [5, 2]])
    # A text: the same latents, tokens as the model sees them, [CLS]/[SEP] included.
    text = "The cat sat on the mat, 12 times."
    per_text = latents.activations([text, "dates: 1999-12-31"], LAYER, range(0, 48))[0]
    assert per_text.shape == (len(minilm.tokenize(text)), 48)
    torch.testing.assert_close(per_text, latents.sae.encode(minilm.activations([text], LAYER)[0]))
    record = latents.record(LAYER, 7, text)
    assert record.tokens == minilm.tokenize(text)
    assert record.activations == pytest.approx(per_text[:, 7].tolist(), abs=1e-5)


def test_a_latent_is_refused_outside_its_sae(latents: LatentModel) -> None:
    with pytest.raises(ModelError, match="reads layer 3"):
        latents.window_activations(torch.zeros((1, 4), dtype=torch.long), 2)
    with pytest.raises(ModelError, match="latent 48 out of range"):
        latents.neuron_index([48])
    answers = batch_text_activations(latents, LAYER, [(3, "a cat"), (99, "a dog"), (4, " ")])
    assert isinstance(answers[0], dict) and answers[0]["tokens"] == ["[CLS]", "a", "cat", "[SEP]"]
    assert answers[0] == text_activations(latents, LAYER, 3, "a cat")
    assert isinstance(answers[1], ModelError) and "latent 99" in str(answers[1])
    assert isinstance(answers[2], ModelError)


def test_latents_mine_like_neurons(minilm: NeuronModel, latents: LatentModel) -> None:
    """Mining latents keeps exactly what a brute-force pass over the same windows finds."""
    windows = make_windows(minilm, None, window=32, max_tokens=32 * 40)
    summaries = Miner(latents, windows, LAYER, range(0, 48), batch_size=7, top_k=5, n_random=3).run()
    brute = torch.cat([latents.window_activations(windows[i : i + 1], LAYER) for i in range(len(windows))])
    win_max = brute.amax(dim=1)
    for i, s in enumerate(summaries):
        assert s.index == i
        expected = win_max[:, i].sort(descending=True).values[:5].tolist()
        assert [r.max_activation for r in s.top] == pytest.approx(expected, abs=1e-4)
        assert s.max_activation == pytest.approx(brute[:, :, i].max().item(), abs=1e-4)
        assert len(s.random) == 3


def test_decoder_neighbours_rank_by_cosine() -> None:
    sae = SparseAutoencoder(4, 5, 2, HookSite(0))
    with torch.no_grad():
        sae.W_dec.copy_(
            torch.tensor([[1.0, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 1, 0], [0, 0, 2.0, 0.1], [-1.0, 0, 0, 0]])
        )
    near = decoder_neighbours(sae, [0, 1, 2, 3, 4], 2)
    assert [j for j, _ in near[0]] == [1, 2] and near[0][0][1] == pytest.approx(0.9 / (0.82**0.5), abs=1e-6)
    assert near[3][0][0] == 2 and near[3][0][1] == pytest.approx(2 / (4.01**0.5), abs=1e-6)
    assert [j for j, _ in near[4]] == [2, 3]  # orthogonal (0) before the opposite ones (< 0)
    assert all(j != i for i, pairs in enumerate(near) for j, _ in pairs)
    # A subset: positions are into the subset, chunking changes nothing.
    assert decoder_neighbours(sae, [4, 0, 1], 1) == [
        [(2, pytest.approx(-0.9 / (0.82**0.5)))],  # 1 is less opposite to 4 than 0 is
        [(2, near[0][0][1])],
        [(1, near[1][0][1])],
    ]
    assert decoder_neighbours(sae, [0, 1, 2, 3, 4], 3, chunk=2) == decoder_neighbours(sae, [0, 1, 2, 3, 4], 3)


def test_installed_by_name_and_loaded_for_a_campaign(minilm: NeuronModel, tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = save_sae(build_sae(minilm, LAYER, d_sae=16, k=4), tmp_path / "my-sae")
    assert install_sae(data, str(made)) == "my-sae"
    assert (sae_dir(data, "my-sae") / "cfg.json").is_file()
    assert install_sae(data, "my-sae") == "my-sae"  # by name now
    assert install_sae(data, str(made)) == "my-sae"  # the same SAE again: nothing to do
    other = save_sae(build_sae(minilm, 2, d_sae=16, k=4), tmp_path / "elsewhere" / "my-sae")
    with pytest.raises(ModelError, match="another SAE named 'my-sae'"):
        install_sae(data, str(other))
    with pytest.raises(ModelError, match="no SAE named 'nope'"):
        install_sae(data, "nope")
    units = load_unit_model("minilm-l6", "my-sae", device="cpu", data_dir=data)
    assert isinstance(units, LatentModel) and (units.n_neurons, units.layer) == (16, LAYER)
    neurons = load_unit_model("minilm-l6", "neurons", device="cpu", data_dir=data)
    assert isinstance(neurons, NeuronModel) and neurons.n_neurons == 1536
    torch.testing.assert_close(units.sae.W_dec, load_sae(made).W_dec)
    wrong_width = SparseAutoencoder(10, 4, 2, HookSite(LAYER), meta={})
    with pytest.raises(ModelError, match=r"reads 10 values"):
        LatentModel(minilm, wrong_width, "x")
