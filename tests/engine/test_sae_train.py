"""Training a TopK SAE: the sparse backward equals dense autograd, training lowers held-out FVU,
an interrupted run resumes from its checkpoint to the same weights, and the splice report
sees a perfect reconstruction as harmless and zeroing as harmful."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.models import load_model
from engine.sae import HookSite, SaeError, SparseAutoencoder, load_sae
from engine.sae import budget as budget_module
from engine.sae.budget import (
    AFTER_TRAINING_S,
    FIRST_ESTIMATE_STEPS,
    MARGIN,
    REFIT_COST_PER_STEP_TOKEN,
    TimeBudget,
)
from engine.sae.evaluate import splice_report
from engine.sae.resample import resample_dead
from engine.sae.topk_step import forget_latents, train_step
from engine.sae.train import STATE_FILE, TrainConfig, TrainingPaused, fast_bfloat16, learning_rate, train_sae
from tests.model_fixtures import SENTENCES, tiny_gpt2_dir

__all__ = ["tiny_gpt2_dir"]  # fixture, imported for pytest


@pytest.mark.parametrize("aux_k", [5, 30])  # fewer than the 22 dead latents, and more (no sort)
@pytest.mark.parametrize("aux_tokens", [None, 25])  # AuxK on every token, or on every second one
@pytest.mark.parametrize("rank", [None, 6])  # the full encoder, or one reading a 6-dimensional subspace
def test_sparse_backward_equals_dense_autograd(aux_k: int, aux_tokens: int | None, rank: int | None) -> None:
    gen = torch.Generator().manual_seed(0)
    d, m, k, batch = 16, 64, 4, 50
    basis = None if rank is None else torch.linalg.qr(torch.randn(d, rank, generator=gen))[0]
    params = {
        name: torch.randn(shape, generator=gen).requires_grad_()
        for name, shape in {"W_enc": (rank or d, m), "b_enc": (m,), "W_dec": (m, d), "b_dec": (d,)}.items()
    }
    x = torch.randn(batch, d, generator=gen)
    dead = torch.zeros(m, dtype=torch.bool)
    dead[::3] = True
    out = train_step(
        params,
        x,
        k=k,
        dead=dead,
        aux_k=aux_k,
        aux_coef=0.5,
        variance=3.0,
        low_precision=False,
        aux_tokens=aux_tokens,
        basis=basis,
    )
    out.backward(params)
    sparse = {name: p.grad.clone() for name, p in params.items()}  # type: ignore[union-attr]
    for p in params.values():
        p.grad = None
    # The same loss written densely, differentiated by autograd.
    w_enc, b_enc, w_dec, b_dec = (params[n] for n in ("W_enc", "b_enc", "W_dec", "b_dec"))
    pre = (x - b_dec) @ (w_enc if basis is None else basis @ w_enc) + b_enc
    vals, idx = pre.topk(k, dim=-1)
    x_hat = torch.zeros_like(pre).scatter(-1, idx, vals.relu()) @ w_dec + b_dec
    rows = slice(None, None, 1 if aux_tokens is None else batch // aux_tokens)
    residual = (x - x_hat).detach()[rows]
    aux_vals, aux_idx = pre[rows].masked_fill(~dead, float("-inf")).topk(aux_k, dim=-1)
    e_hat = torch.zeros_like(pre[rows]).scatter(-1, aux_idx, aux_vals.relu()) @ w_dec
    loss = (x_hat - x).pow(2).sum(-1).mean() / 3.0
    loss = loss + 0.5 * (e_hat - residual).pow(2).sum(-1).mean() / residual.var(0).sum()
    torch.testing.assert_close(out.loss, loss)
    loss.backward()
    for name, p in params.items():
        torch.testing.assert_close(sparse[name], p.grad, atol=1e-3, rtol=1e-4, msg=name)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~40k tiny-GPT-2 tokens (tokenizing the bundled corpus with its byte-level BPE takes minutes)."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text("\n\n".join(f"{s} ({i})" for i in range(300) for s in SENTENCES))
    return path


def _config(model: str, corpus: Path, **kw: object) -> TrainConfig:
    base = dict(model=model, layer=1, expansion=4, k=8, tokens=24 * 1024, batch=1024, lr=3e-3)
    base.update(heldout_tokens=4096, dead_tokens=8192, window=32, low_precision=False, corpus=str(corpus))
    base.update(refit_tokens=0)  # the training itself; the refit after it has its own test below
    return TrainConfig(**(base | kw))  # type: ignore[arg-type]


def test_training_lowers_fvu_and_resumes_from_its_checkpoint(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    one_step = train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, tokens=1024), tmp_path / "one")
    whole = train_sae(model, _config(str(tiny_gpt2_dir), small_corpus), tmp_path / "whole")
    first, trained = one_step.meta["report"], whole.meta["report"]
    assert trained["fvu"] < 0.6 * first["fvu"], (first["fvu"], trained["fvu"])
    assert trained["l0"] <= 8
    assert whole.meta["train_tokens"] == 24 * 1024 and whole.meta["encoder_bfloat16"] is False
    assert whole.hook == HookSite(1, "mlp_post") and (whole.d_in, whole.d_sae, whole.k) == (128, 512, 8)
    torch.testing.assert_close(whole.W_dec.norm(dim=-1), torch.ones(512))  # unit decoder rows
    assert not (tmp_path / "whole" / STATE_FILE).exists()

    # The same run, stopped after 10 of its 24 steps, then continued: the same SAE.
    config = _config(str(tiny_gpt2_dir), small_corpus)
    with pytest.raises(TrainingPaused, match="step 10 of 24"):
        train_sae(model, config, tmp_path / "resumed", max_steps=10)
    assert (tmp_path / "resumed" / STATE_FILE).exists()
    with pytest.raises(SaeError, match=r"other settings \(k\)"):
        train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, k=4), tmp_path / "resumed")
    # Another token budget is refused when it changes the training windows, or when the
    # checkpoint is past its decay; it is taken when neither (test_rescheduled_run below).
    with pytest.raises(SaeError, match="change the checkpoint's training windows"):
        train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, tokens=2048), tmp_path / "resumed")
    resumed = train_sae(model, config, tmp_path / "resumed")
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        torch.testing.assert_close(getattr(resumed, name), getattr(whole, name), atol=1e-4, rtol=1e-3)
    assert resumed.meta["report"]["fvu"] == pytest.approx(trained["fvu"], rel=1e-3)
    # A finished SAE is returned as saved, without training again; it loads like any SAELens SAE.
    again = train_sae(model, config, tmp_path / "resumed", max_steps=0)
    torch.testing.assert_close(again.W_enc, resumed.W_enc)
    with pytest.raises(SaeError, match=r"an SAE trained with other settings \(tokens\)"):
        train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, tokens=2048), tmp_path / "resumed")
    loaded = load_sae(tmp_path / "resumed")
    assert loaded.meta["report"]["fvu"] == resumed.meta["report"]["fvu"]
    assert set(loaded.meta["report"]["splice"]) >= {"ce_clean", "ce_spliced", "ce_zero_ablated"}
    # A directory written before the refit existed (no refit settings saved) is the same SAE
    # as one trained with no refit: found, not refused as other settings.
    cfg_path = tmp_path / "resumed" / "cfg.json"
    cfg = json.loads(cfg_path.read_text())
    saved = cfg["metadata"]["neuronquest"]["train_config"]
    assert saved.pop("refit_tokens") == 0 and saved.pop("refit_ridge")
    cfg_path.write_text(json.dumps(cfg))
    older = train_sae(model, config, tmp_path / "resumed", max_steps=0)
    torch.testing.assert_close(older.W_enc, resumed.W_enc)


def test_a_low_rank_encoder_trains_resumes_and_saves_its_full_encoder(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    config = _config(str(tiny_gpt2_dir), small_corpus, encoder_rank=32, refit_tokens=4096)
    one_step = train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, tokens=1024), tmp_path / "one")
    whole = train_sae(model, config, tmp_path / "whole")
    assert whole.meta["report"]["fvu"] < 0.6 * one_step.meta["report"]["fvu"]
    # Saved as any SAE: the full [d_in, d_sae] encoder, of rank 32 (it reads 32 directions).
    assert whole.W_enc.shape == (128, 512) and int(torch.linalg.matrix_rank(whole.W_enc)) == 32
    with pytest.raises(TrainingPaused):
        train_sae(model, config, tmp_path / "resumed", max_steps=10)
    resumed = train_sae(model, config, tmp_path / "resumed")
    torch.testing.assert_close(resumed.W_enc, whole.W_enc, atol=1e-4, rtol=1e-3)
    with pytest.raises(SaeError, match="resampling needs the full encoder"):
        train_sae(
            model,
            _config(str(tiny_gpt2_dir), small_corpus, encoder_rank=32, resample_tokens=4096),
            tmp_path / "r",
        )
    with pytest.raises(SaeError, match="more than the site's width"):
        train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, encoder_rank=129), tmp_path / "w")


def _perfect_sae(width: int, layer: int) -> SparseAutoencoder:
    """relu(x) - relu(-x) = x: a ReLU SAE with latents ±e_i rebuilds its input exactly."""
    sae = SparseAutoencoder(width, 2 * width, None, HookSite(layer), apply_b_dec_to_input=False)
    eye = torch.eye(width)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=0))
    return sae.requires_grad_(False)


def test_splice_of_a_perfect_reconstruction_changes_nothing(tiny_gpt2_dir: Path) -> None:
    gpt2 = load_model(str(tiny_gpt2_dir), device="cpu")
    windows = torch.tensor([gpt2.encode("The cat sat on the mat and looked at the dog.")[:10]] * 2)
    report = splice_report(gpt2, _perfect_sae(gpt2.n_neurons, 1), windows)
    assert report["ce_spliced"] == pytest.approx(report["ce_clean"], abs=1e-4)
    assert report["ce_zero_ablated"] != pytest.approx(report["ce_clean"], abs=1e-3)

    minilm = load_model("minilm-l6", device="cpu")
    windows = torch.tensor([minilm.encode("Numbers like 12 and 345 appear in text; so do dates.")[:12]] * 2)
    report = splice_report(minilm, _perfect_sae(minilm.n_neurons, 3), windows)
    assert report["embedding_cosine_spliced"] == pytest.approx(1.0, abs=1e-5)
    assert report["hidden_mse_spliced"] == pytest.approx(0.0, abs=1e-6)
    assert report["hidden_mse_zero_ablated"] > 0.01
    assert report["embedding_cosine_zero_ablated"] < 0.999
    assert report["loss_recovered"] == pytest.approx(1.0, abs=1e-4)


def test_a_checkpoint_continues_with_a_larger_budget_as_if_started_with_it(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    """The learning rate is constant until its decay, so 8 steps of a 977-step budget continued
    as a 1,172-step budget give the 1,172-step run (both budgets exceed the small corpus: the same
    windows, every one)."""
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    with pytest.raises(TrainingPaused):
        train_sae(
            model,
            _config(str(tiny_gpt2_dir), small_corpus, tokens=1_000_000),
            tmp_path / "a",
            max_steps=8,
        )
    longer = _config(str(tiny_gpt2_dir), small_corpus, tokens=1_200_000)
    with pytest.raises(TrainingPaused):
        train_sae(model, longer, tmp_path / "a", max_steps=2)
    with pytest.raises(TrainingPaused):
        train_sae(model, longer, tmp_path / "b", max_steps=10)
    state_a = torch.load(tmp_path / "a" / STATE_FILE, weights_only=False)
    state_b = torch.load(tmp_path / "b" / STATE_FILE, weights_only=False)
    assert state_a["step"] == state_b["step"] == 10
    for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
        torch.testing.assert_close(state_a["params"][name], state_b["params"][name], atol=1e-4, rtol=1e-3)


def test_forget_latents_zeroes_only_their_adam_moments() -> None:
    gen = torch.Generator().manual_seed(1)
    params = {
        "W_enc": torch.randn(6, 10, generator=gen).requires_grad_(),
        "b_enc": torch.randn(10, generator=gen).requires_grad_(),
        "W_dec": torch.randn(10, 6, generator=gen).requires_grad_(),
    }
    optim = torch.optim.Adam(params.values(), lr=1e-3)
    sum(p.pow(3).sum() for p in params.values()).backward()
    optim.step()
    before = {name: {k: v.clone() for k, v in optim.state[p].items()} for name, p in params.items()}
    latents = torch.tensor([2, 7])
    forget_latents(optim, params, latents)
    keep = torch.ones(10, dtype=torch.bool)
    keep[latents] = False
    for key in ("exp_avg", "exp_avg_sq"):
        enc, bias, dec = (optim.state[params[n]][key] for n in ("W_enc", "b_enc", "W_dec"))
        assert not enc[:, latents].any() and not bias[latents].any() and not dec[latents].any()
        assert enc[:, latents].numel() and before["W_enc"][key][:, latents].all()
        torch.testing.assert_close(enc[:, keep], before["W_enc"][key][:, keep])
        torch.testing.assert_close(bias[keep], before["b_enc"][key][keep])
        torch.testing.assert_close(dec[keep], before["W_dec"][key][keep])


def test_the_learning_rate_warms_up_holds_and_decays_to_its_floor() -> None:
    config = TrainConfig(model="m", layer=0, lr=1.0, decay_fraction=0.5, lr_floor=0.2)
    lrs = [learning_rate(step, 1000, config) for step in range(1000)]
    assert lrs[0] == pytest.approx(1 / 50) and lrs[49] == 1.0 and lrs[499] == 1.0
    assert lrs[500] == 1.0 and lrs[750] == pytest.approx(0.2 + 0.8 * 0.5)
    assert lrs[999] == pytest.approx(0.2 + 0.8 / 500)
    assert all(a >= b for a, b in itertools.pairwise(lrs[50:]))
    # The defaults: the last four fifths, towards a tenth of lr.
    plain = TrainConfig(model="m", layer=0, lr=1.0)
    assert learning_rate(199, 1000, plain) == 1.0 and learning_rate(600, 1000, plain) == pytest.approx(0.55)
    bad_ones = ({"decay_fraction": 1.5}, {"lr_floor": -0.1}, {"dead_tokens": 0}, {"aux_coef": -1.0})
    for bad in (*bad_ones, {"resample_tokens": -1}, {"resample_until": 2.0}, {"resample_sample": 0}):
        with pytest.raises(SaeError):
            TrainConfig(model="m", layer=0, **bad).check()  # type: ignore[arg-type]


def test_a_latent_that_dies_has_its_adam_moments_zeroed(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    """With one batch as the dead window, latents die every step; those that died in the last
    step have zero moments in the checkpoint written right after it (without the reset they keep
    the moments of their last gradients)."""
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    states = {}
    for reset in (True, False):
        config = _config(str(tiny_gpt2_dir), small_corpus, dead_tokens=1024, reset_dead_moments=reset)
        with pytest.raises(TrainingPaused):
            train_sae(model, config, tmp_path / str(reset), max_steps=6)
        states[reset] = torch.load(tmp_path / str(reset) / STATE_FILE, weights_only=False)
    for reset, state in states.items():
        died = ((state["since_fire"] >= 1024) & (state["since_fire"] < 2048)).nonzero(as_tuple=True)[0]
        assert died.numel() > 0
        moments = state["optim"]["state"][0]["exp_avg_sq"][:, died]  # W_enc: the first parameter
        assert (not moments.any()) if reset else moments.any(), reset


def test_bfloat16_is_used_only_on_a_cpu_that_has_it(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_vnni\n")
    assert not fast_bfloat16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f amx_tile amx_bf16\n")
    assert fast_bfloat16(cpuinfo)
    assert not fast_bfloat16(tmp_path / "missing")


def test_resampling_revives_dead_latents_toward_the_worst_rebuilt_tokens() -> None:
    """Half the latents of a tiny SAE can never fire (a huge negative bias); after resampling
    they fire on the tokens, their decoder rows are unit residual directions, the alive ones are
    untouched, and the moved entries' Adam state is momentum 0, second moment the alive mean."""
    gen = torch.Generator().manual_seed(2)
    d, m, k = 16, 64, 4
    w_dec = torch.nn.functional.normalize(torch.randn(m, d, generator=gen), dim=-1)
    params = {
        "W_enc": w_dec.t().clone().requires_grad_(),
        "b_enc": torch.zeros(m).requires_grad_(),
        "W_dec": w_dec.requires_grad_(),
        "b_dec": torch.zeros(d).requires_grad_(),
    }
    dead = torch.zeros(m, dtype=torch.bool)
    dead[::2] = True
    with torch.no_grad():
        params["b_enc"][dead] = -1e4
    optim = torch.optim.Adam(params.values(), lr=1e-3)
    x = torch.randn(512, d, generator=gen) * 3
    out = train_step(params, x, k=k, dead=None, aux_k=0, aux_coef=0.0, variance=1.0, low_precision=False)
    out.backward(params)
    optim.step()
    assert not dead[out.idx.reshape(-1)].any()  # they never fire
    before = {name: p.detach().clone() for name, p in params.items()}
    moments = {name: optim.state[p]["exp_avg_sq"].clone() for name, p in params.items()}

    moved = resample_dead(params, optim, x, dead, k=k, generator=torch.Generator().manual_seed(0))

    assert moved == int(dead.sum())
    after = train_step(params, x, k=k, dead=None, aux_k=0, aux_coef=0.0, variance=1.0, low_precision=False)
    fired = torch.zeros(m, dtype=torch.bool)
    fired[after.idx.reshape(-1)] = True
    assert fired[dead].float().mean() > 0.9, fired[dead].float().mean()
    torch.testing.assert_close(params["W_dec"][dead].norm(dim=-1), torch.ones(int(dead.sum())))
    for name in ("W_enc", "W_dec", "b_enc"):
        kept = (slice(None), ~dead) if name == "W_enc" else ~dead
        torch.testing.assert_close(params[name].detach()[kept], before[name][kept])
        state = optim.state[params[name]]
        moved_at = (slice(None), dead) if name == "W_enc" else dead
        assert not state["exp_avg"][moved_at].any()
        typical = moments[name][kept].mean(1 if name == "W_enc" else 0)
        if name == "W_enc":
            torch.testing.assert_close(
                state["exp_avg_sq"][moved_at], typical[:, None].expand(-1, int(dead.sum()))
            )
        else:
            torch.testing.assert_close(
                state["exp_avg_sq"][moved_at], typical.expand_as(state["exp_avg_sq"][moved_at])
            )
    # Nothing dead, or everything dead: nothing moves.
    generator = torch.Generator().manual_seed(0)
    assert resample_dead(params, optim, x, torch.zeros(m, dtype=torch.bool), k=k, generator=generator) == 0
    assert resample_dead(params, optim, x, torch.ones(m, dtype=torch.bool), k=k, generator=generator) == 0


def test_a_checkpoint_past_its_decay_continues_only_with_its_own_budget(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    """Another budget would change a schedule already under way: refused; the same one continues."""
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    # 977 steps, the decay from step 9; both budgets exceed the small corpus (the same windows).
    config = _config(str(tiny_gpt2_dir), small_corpus, tokens=1_000_000, decay_fraction=0.99)
    with pytest.raises(TrainingPaused):
        train_sae(model, config, tmp_path / "a", max_steps=10)
    with pytest.raises(SaeError, match="past the learning-rate decay"):
        train_sae(model, replace(config, tokens=1_200_000), tmp_path / "a", max_steps=1)
    with pytest.raises(TrainingPaused):
        train_sae(model, config, tmp_path / "a", max_steps=1)
    assert torch.load(tmp_path / "a" / STATE_FILE, weights_only=False)["step"] == 11


def test_the_decoder_refit_after_training_lowers_held_out_fvu(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    plain = train_sae(model, _config(str(tiny_gpt2_dir), small_corpus, tokens=8192), tmp_path / "plain")
    config = _config(str(tiny_gpt2_dir), small_corpus, tokens=8192, refit_tokens=16_384)
    refit = train_sae(model, config, tmp_path / "refit")
    assert refit.meta["refit"]["tokens"] > 0 and plain.meta["refit"] == {"seconds": 0.0}
    assert refit.meta["refit"]["train_fvu_after"] < refit.meta["refit"]["train_fvu_before"]
    assert refit.meta["report"]["fvu"] < plain.meta["report"]["fvu"]
    assert refit.meta["report"]["l0"] <= 8
    # The encoder and the training are the same; only the decoder (and b_enc, for b_dec's move) differ.
    torch.testing.assert_close(refit.W_enc, plain.W_enc)
    assert load_sae(tmp_path / "refit").meta["report"] == refit.meta["report"]


def test_a_time_budget_is_the_steps_that_fit_before_its_deadline() -> None:
    budget = TimeBudget(deadline=1000.0, seconds=600.0, batch=1000, refit_tokens=10_000)
    # Left at t=500: 500 s less the report (AFTER_TRAINING_S), the refit (10 steps' worth of tokens
    # at REFIT_COST_PER_STEP_TOKEN) and the margin (MARGIN of 600 s), at 2 s a step.
    left = 500 - AFTER_TRAINING_S - 10 * 2.0 * REFIT_COST_PER_STEP_TOKEN - MARGIN * 600
    assert budget.total_steps(40, 500.0, 2.0) == 40 + int(left / 2.0)
    # A spent budget still finishes the step it is at.
    assert budget.total_steps(40, 990.0, 2.0) == 41
    with pytest.raises(SaeError, match="minutes"):
        TrainConfig(model="m", layer=0, minutes=-1).check()


def test_a_run_with_a_time_budget_ends_in_time_and_resumes_its_own_schedule(
    tiny_gpt2_dir: Path, small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny model's steps take milliseconds: without the report's reserve (sized for MiniLM) a
    6-second budget trains hundreds of steps and ends in time, whatever ``tokens`` says."""
    monkeypatch.setattr(budget_module, "AFTER_TRAINING_S", 0.0)
    torch.set_num_threads(1)
    model = load_model(str(tiny_gpt2_dir), device="cpu")
    config = _config(str(tiny_gpt2_dir), small_corpus, minutes=0.05, tokens=1024)
    began = time.monotonic()
    sae = train_sae(model, config, tmp_path / "timed", checkpoint_s=1.0, started=began)
    elapsed = time.monotonic() - began
    assert elapsed <= 3.0 + 1.0, elapsed  # the report after training is the slack
    steps = sae.meta["train_tokens"] // 1024
    assert steps > 3 + FIRST_ESTIMATE_STEPS and sae.meta["budget_minutes"] == 0.05
    assert sae.meta["report"]["fvu"] < 0.5
    # Paused and resumed: the rerun keeps the checkpoint's schedule and re-estimates it from there.
    config = _config(str(tiny_gpt2_dir), small_corpus, minutes=0.05, tokens=1024)
    with pytest.raises(TrainingPaused, match="step 15 of"):
        train_sae(model, config, tmp_path / "paused", max_steps=15, checkpoint_s=1.0)
    resumed = train_sae(model, config, tmp_path / "paused", checkpoint_s=1.0)
    assert resumed.meta["train_tokens"] > 15 * 1024
