"""A campaign of an SAE's latents, built, asked about and related like one of neurons (real DB, Redis)."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest
import redis
import torch
from sqlmodel import col, select

from config import keys
from config.settings import Settings
from engine.corpus import make_windows
from engine.models import load_model
from engine.sae import load_sae, save_sae
from engine.units import LatentModel, decoder_neighbours
from server.cli import models as model_commands
from store.campaigns import get_campaign, get_neuron, neuron_records
from store.db import Database
from store.models import Neuron
from store.reference import related_neurons
from store.reference_models import RelatedNeuron
from tests.support.small_sae import build_transcoder, save_small_sae
from workers import context
from workers.activations import test_text_job
from workers.mining import WINDOW, build_campaign
from workers.reference import related_neurons_job

SMALL = 48 * 64
SAE = "minilm-l6-l3-test"


@pytest.fixture
def sae_path(tmp_path: Path) -> Path:
    return save_small_sae(load_model("minilm-l6", device="cpu"), 3, tmp_path / SAE, d_sae=24, k=4)


def test_a_latent_campaign_is_built_from_the_same_windows(
    settings: Settings, db: Database, redis_client: redis.Redis, sae_path: Path
) -> None:
    context.use_settings(settings)
    n = build_campaign(
        settings, db, name="feats", model="minilm-l6", layer=None, max_tokens=SMALL, sae=str(sae_path)
    )
    assert n == 24
    with db.session() as s:
        campaign = get_campaign(s, "feats")
        assert campaign is not None
        assert (campaign.unit, campaign.source, campaign.layer, campaign.neuron_end) == ("latent", SAE, 3, 24)
        latent = get_neuron(s, "feats", 5)
        assert latent is not None
        top, rand = neuron_records(s, int(latent.id or 0))
    assert (settings.data_path / "saes" / SAE / "cfg.json").is_file()  # stored by name for the workers
    # The top records are the latent's activations on the neurons' own windows.
    base = load_model("minilm-l6", device="cpu")
    windows = make_windows(base, None, window=WINDOW, max_tokens=SMALL)
    latents = LatentModel(base, load_sae(sae_path), SAE)
    acts = latents.window_activations(windows, 3, [5])[..., 0]
    best = acts.amax(dim=1).sort(descending=True).values[: len(top)]
    assert [r.max_activation for r in top] == pytest.approx(best.tolist(), abs=1e-4)
    assert len(rand) == 20 and top[0].tokens == base.token_strings(
        windows[int(acts.amax(dim=1).argmax())].tolist()
    )

    # Advanced mode: the latent on any text, answered privately to the player.
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.player_channel(7))
    pubsub.get_message(timeout=1)
    ok = test_text_job("feats", 5, "The cat sat on 12 mats.", 7, "room-1", "r1")
    bad = test_text_job("feats", 24, "The cat sat.", 7, "room-1", "r2")
    sent = [
        orjson.loads(m["data"])
        for m in iter(lambda: pubsub.get_message(timeout=0.3), None)
        if m["type"] == "message"
    ]
    pubsub.close()
    assert sent == [ok, bad]
    expected = latents.record(3, 5, "The cat sat on 12 mats.")
    assert ok["tokens"] == expected.tokens
    assert ok["activations"] == pytest.approx(expected.activations, abs=1e-5)
    assert bad["type"] == "error" and "feature 24 is not in campaign feats" in bad["message"]

    # Related latents: decoder cosine, stored in the related units' rows.
    assert related_neurons_job(campaign.id or 0, top_k=3) == 24
    with db.session() as s:
        index_of = {n.id: n.index for n in s.exec(select(Neuron).where(Neuron.campaign_id == campaign.id))}
        rows = list(
            s.exec(select(RelatedNeuron).order_by(col(RelatedNeuron.neuron_id), col(RelatedNeuron.rank)))
        )
        shown = related_neurons(s, int(latent.id or 0))
    assert len(rows) == 72
    cos = decoder_neighbours(latents.sae, list(range(24)), 3)
    for r in rows:
        assert (index_of[r.other_id], r.correlation) in [
            (j, pytest.approx(v, abs=1e-6)) for j, v in cos[index_of[r.neuron_id]]
        ]
    assert [x["index"] for x in shown] == [j for j, _ in cos[5]] and shown[0]["measure"] == "decoder_cosine"
    w = torch.nn.functional.normalize(latents.sae.W_dec, dim=1)
    assert shown[0]["correlation"] == pytest.approx(float(w[5] @ w[shown[0]["index"]]), abs=1e-6)


def test_the_cli_creates_a_latent_campaign(
    settings: Settings, db: Database, sae_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        model="minilm-l6", layer=None, sae=str(sae_path), neurons="0-9", corpus=None, max_tokens=SMALL,
        name=None, batch_size=None, quiet=True,
    )  # fmt: skip
    assert model_commands.cmd_campaign_build(args, settings) == 0
    assert f"campaign minilm-l6-layer3-{SAE}: 10 features mined" in capsys.readouterr().out
    with db.session() as s:
        campaign = get_campaign(s, f"minilm-l6-layer3-{SAE}")
        assert campaign is not None and (campaign.unit, campaign.source, campaign.neuron_end) == (
            "latent",
            SAE,
            10,
        )
    # The SAE reads layer 3: asking for another layer is refused before anything is written.
    wrong = argparse.Namespace(**{**vars(args), "layer": 2, "name": "wrong"})
    with pytest.raises(model_commands.CliError, match="reads layer 3"):
        model_commands.cmd_campaign_build(wrong, settings)


def test_the_cli_shows_a_latent_on_a_text(
    settings: Settings, sae_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        model="minilm-l6", layer=3, neuron=4, text="The cat sat.", json=False, sae=str(sae_path)
    )
    assert model_commands.cmd_activations(args, settings) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"minilm-l6 layer 3 SAE {SAE} feature 4"
    with pytest.raises(model_commands.CliError, match="latent 24 out of range"):
        model_commands.cmd_activations(argparse.Namespace(**{**vars(args), "neuron": 24}), settings)


def test_a_transcoder_campaign_is_mined_at_the_mlp_input_and_says_transcoder(
    settings: Settings,
    db: Database,
    redis_client: redis.Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context.use_settings(settings)
    base = load_model("minilm-l6", device="cpu")
    path = save_sae(build_transcoder(base, 3, d_sae=16, skip=True), tmp_path / "minilm-l6-l3-tc")
    args = argparse.Namespace(
        model="minilm-l6", layer=None, sae=str(path), neurons=None, corpus=None, max_tokens=SMALL,
        name="tc", batch_size=None, quiet=True,
    )  # fmt: skip
    assert model_commands.cmd_campaign_build(args, settings) == 0
    assert "campaign tc: 16 features mined" in capsys.readouterr().out
    with db.session() as s:
        campaign = get_campaign(s, "tc")
        assert campaign is not None
        assert (campaign.unit, campaign.source, campaign.source_kind) == (
            "latent",
            "minilm-l6-l3-tc",
            "transcoder",
        )
        latent = get_neuron(s, "tc", 3)
        assert latent is not None
        top, _ = neuron_records(s, int(latent.id or 0))
    # Mined from the MLP's input (mlp_in), where the transcoder's encoder reads.
    windows = make_windows(base, None, window=WINDOW, max_tokens=SMALL)
    tc = load_sae(path)
    x = base.window_activations(windows, 3, site="mlp_in")
    best = torch.relu(x @ tc.W_enc + tc.b_enc)[..., 3].amax(dim=1).sort(descending=True).values[: len(top)]
    assert [r.max_activation for r in top] == pytest.approx(best.tolist(), abs=1e-4)
    assert related_neurons_job(campaign.id or 0, top_k=2) == 16
    show = argparse.Namespace(
        model="minilm-l6", layer=3, neuron=3, text="The cat sat.", json=False, sae=str(path)
    )
    assert model_commands.cmd_activations(show, settings) == 0
    assert capsys.readouterr().out.splitlines()[0] == "minilm-l6 layer 3 transcoder minilm-l6-l3-tc feature 3"
