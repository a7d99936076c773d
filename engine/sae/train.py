"""Train a TopK SAE on one layer's site activations over a corpus, resumably, on the CPU.

Gao et al. (2024) recipe, sized for this machine: inputs scaled by one constant so that
E‖x‖² = d_in (folded into the biases when saved, so the SAE reads raw activations);
decoder rows random unit vectors, ``W_enc = W_decᵀ``, ``b_dec`` the data mean; Adam with a
short warm-up and a linear decay over the last fifth; decoder rows kept at unit norm (the
gradient along each row removed before a step, the row renormalised after); AuxK on the
latents silent for ``dead_tokens`` tokens. Batches are tokens drawn without replacement
from a seeded per-epoch permutation of the cached training tokens, so step s always sees the
same batch, and a checkpoint (``train_state.pt``: weights, Adam, step, silence counters)
written every ``checkpoint_s`` seconds lets a rerun continue where the last one stopped.
After the last step the decoder is refit by least squares with the encoder fixed
(engine/sae/refit.py), so the saved decoder rows are no longer exactly unit-norm.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from engine.corpus import corpus_label, make_windows
from engine.mining import windows_fingerprint
from engine.models import NeuronModel
from engine.sae.budget import FIRST_ESTIMATE_AT, UNTIMED_STEPS, TimeBudget
from engine.sae.data import ActivationCache, split_windows
from engine.sae.hooks import HookSite
from engine.sae.model import SaeError, SparseAutoencoder
from engine.sae.refit import refit_decoder
from engine.sae.resample import resample_dead
from engine.sae.saelens_format import save_sae
from engine.sae.topk_step import constrain_decoder, forget_latents, normalise_decoder, train_step
from engine.sae.train_config import TrainConfig, fast_bfloat16
from engine.sae.train_dir import STATE_FILE, cached_fingerprint, claim, finished_sae


def principal_basis(sample: torch.Tensor, rank: int) -> torch.Tensor:
    """[d_in, rank]: the orthonormal directions of ``sample``'s largest variance (its centred
    covariance's top eigenvectors), the subspace a low-rank encoder reads."""
    centred = sample.double() - sample.double().mean(0)
    _, vectors = torch.linalg.eigh(centred.t() @ centred)  # eigenvalues ascending
    return vectors[:, -rank:].flip(1).float().contiguous()


@dataclass
class TrainProgress:
    phase: str  # "activations" (caching the site) or "training"
    done: int  # windows cached, or tokens trained
    total: int
    fvu: float = math.nan  # running training FVU
    dead_fraction: float = math.nan


def default_out_dir(data_dir: Path, config: TrainConfig) -> Path:
    name = Path(config.model).name if "/" in config.model else config.model
    site = "" if config.site == "mlp_post" else f"-{config.site}"
    return data_dir / "saes" / f"{name}-l{config.layer}{site}-topk{config.k}-x{config.expansion}"


def train_sae(
    model: NeuronModel,
    config: TrainConfig,
    out_dir: Path,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    checkpoint_s: float = 60.0,
    max_steps: int | None = None,
    keep_cache: bool = False,
    data_dir: Path | None = None,
    started: float | None = None,
) -> SparseAutoencoder:
    """Train (or finish training) the SAE ``config`` describes into ``out_dir`` and return it.

    A finished SAE in ``out_dir`` with the same config is returned as is. ``max_steps`` stops
    early after that many steps of this call with the checkpoint written (tests, and a budget);
    the SAE is then saved only when training is complete. ``started`` (``time.monotonic()``,
    default: now) is when a ``config.minutes`` budget began: the CLI counts its model load in it."""
    from engine.sae.evaluate import evaluate_sae

    config.check()
    model.check_layer(config.layer)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = finished_sae(out_dir, asdict(config))
    if done is not None:
        return done
    claim(out_dir, asdict(config))
    began = time.monotonic()
    started = began if started is None else started
    # Every window of the corpus, whatever the budget: the split then depends only on the seed
    # and on how many training windows the budget needs.
    all_windows = make_windows(model, config.corpus, window=config.window)
    # A time budget trains on every window: how many tokens it reaches is known only at the end.
    pool_tokens = 10**12 if config.minutes else config.tokens
    split = split_windows(
        all_windows, config.heldout_tokens, pool_tokens, config.seed, shifted=config.shifted_windows
    )
    width = model.site_width(config.site)
    fingerprint = f"{model.name}:{config.layer}:{config.site}:{windows_fingerprint(split.windows)}"
    if (out_dir / STATE_FILE).exists() and cached_fingerprint(out_dir) not in (None, fingerprint):
        raise SaeError(
            f"{out_dir}: these settings change the checkpoint's training windows: use another --out"
        )
    cache = ActivationCache(out_dir, split, width, fingerprint)
    if not cache.complete:

        def report(done: int, total: int) -> None:
            if progress:
                progress(TrainProgress("activations", done, total))

        cache.fill(model, config.layer, config.site, progress=report)
    cache_seconds = time.monotonic() - began
    trainer = _Trainer(config, cache, width, out_dir / STATE_FILE)
    if config.minutes:
        # Earlier runs' training time counts against the budget too.
        seconds = config.minutes * 60
        deadline = started + seconds - trainer.seconds
        trainer.budget = TimeBudget(deadline, seconds, config.batch, config.refit_tokens)
    finished = trainer.run(progress, checkpoint_s, max_steps)
    if not finished:
        raise TrainingPaused(trainer.step, trainer.total_steps)
    # Not in the checkpoint: a rerun after a crash here refits the same trained weights again.
    refit = trainer.refit()
    sae = trainer.export(HookSite(config.layer, config.site), model.name)
    report = evaluate_sae(
        model, sae, cache.heldout(), split.heldout_windows, trainer.since_fire, config, data_dir=data_dir
    )
    sae.meta.update(
        report=report,
        train_config=asdict(config),
        corpus=corpus_label(config.corpus),
        # The training loop over every run; this run's wall time also counts the corpus windows,
        # caching the activations (``cache_seconds``, 0 when an earlier run cached them) and the report.
        train_seconds=round(trainer.seconds + trainer.run_seconds, 1),
        cache_seconds=round(cache_seconds, 1),
        refit=refit,
        last_run_seconds=round(time.monotonic() - started, 1),
        budget_minutes=config.minutes or None,
        train_tokens=trainer.step * config.batch,
        encoder_bfloat16=trainer.low_precision,  # what low_precision=None resolved to on this CPU
        train_token_pool=split.n_train_tokens,
        resampled_latents=trainer.resampled,  # dead latents moved by resampling, over every run
        complete=True,
    )
    save_sae(sae, out_dir)
    (out_dir / STATE_FILE).unlink(missing_ok=True)
    if not keep_cache:
        cache.remove()
    return sae


class TrainingPaused(Exception):
    """``max_steps`` reached before the end: the checkpoint holds the state; rerun to continue."""

    def __init__(self, step: int, total: int) -> None:
        super().__init__(f"stopped at step {step} of {total}; run again to continue")
        self.step, self.total = step, total


def decay_start(total_steps: int, config: TrainConfig) -> int:
    # Rounded first: (1 - 0.8) * 1000 is 199.99999999999997 in floating point.
    return int(round((1 - config.decay_fraction) * total_steps, 6))


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """A short warm-up, constant, then linear over the last ``decay_fraction`` of the steps from
    ``lr`` towards ``lr_floor·lr``."""
    warm = min(1.0, (step + 1) / max(1, min(50, total_steps // 10)))
    decay_from = decay_start(total_steps, config)
    left = 1.0 if step < decay_from else max(0.0, (total_steps - step) / (total_steps - decay_from))
    return config.lr * warm * (config.lr_floor + (1 - config.lr_floor) * left)


class _Trainer:
    def __init__(self, config: TrainConfig, cache: ActivationCache, width: int, state_path: Path) -> None:
        self.config, self.cache, self.state_path = config, cache, state_path
        self.d_in, self.d_sae = width, width * config.expansion
        if config.encoder_rank > width:
            raise SaeError(f"encoder_rank {config.encoder_rank} is more than the site's width {width}")
        self.low_precision = config.low_precision if config.low_precision is not None else fast_bfloat16()
        self.total_steps = max(1, math.ceil(config.tokens / config.batch))
        if config.minutes:  # a provisional length until the first steps are timed (run())
            self.total_steps = max(self.total_steps, FIRST_ESTIMATE_AT + 1)
        self.pool = cache.split.n_train_tokens
        self.seconds = 0.0  # training time of earlier runs, from the checkpoint
        self.run_seconds = 0.0
        self.resampled = 0  # latents moved by resampling (the checkpoint's count on a resume)
        self.budget: TimeBudget | None = None  # with one, run() sets total_steps from its speed
        if state_path.exists():
            self._resume(torch.load(state_path, weights_only=False))
        else:
            self._init()
        self.optim = torch.optim.Adam(
            self.params.values(), lr=config.lr, betas=(0.9, 0.999), eps=6.25e-10, fused=True
        )
        if self._optim_state is not None:
            self.optim.load_state_dict(self._optim_state)

    def _init(self) -> None:
        gen = torch.Generator().manual_seed(self.config.seed)
        sample = self.cache.train_rows(torch.randperm(self.pool, generator=gen)[: min(self.pool, 65_536)])
        self.scale = math.sqrt(self.d_in / float(sample.pow(2).sum(-1).mean().clamp_min(1e-12)))
        sample = sample * self.scale
        self.variance = float((sample - sample.mean(0)).pow(2).sum(-1).mean())
        w_dec = torch.randn(self.d_sae, self.d_in, generator=gen)
        w_dec /= w_dec.norm(dim=-1, keepdim=True)
        # The encoder's subspace: the top principal components of the sample (None: the whole space).
        self.basis = principal_basis(sample, self.config.encoder_rank) if self.config.encoder_rank else None
        w_enc = w_dec.t().clone() if self.basis is None else self.basis.t() @ w_dec.t()
        self.params = {
            "W_enc": w_enc.requires_grad_(),
            "b_enc": torch.zeros(self.d_sae, requires_grad=True),
            "W_dec": w_dec.requires_grad_(),
            "b_dec": sample.mean(0).requires_grad_(),
        }
        self.step = 0
        self.since_fire = torch.zeros(self.d_sae, dtype=torch.long)
        self._optim_state = None

    def _resume(self, state: dict[str, Any]) -> None:
        if self.config.minutes:
            # A time budget's schedule is the checkpoint's (run() re-estimates it from there on).
            self.total_steps = int(state.get("total_steps", self.total_steps))
        if state.get("pool", self.pool) != self.pool:
            raise SaeError(
                "this token budget changes the training windows of the checkpoint: use another --out"
            )
        # The same budget always continues; another one only before either schedule's decay starts
        # (until then the two schedules are the same).
        rescheduled = (
            state.get("total_steps", self.total_steps) != self.total_steps
            or state.get("decay_from", self._decay_from()) != self._decay_from()
        )
        past_decay = (
            state["step"] > self._decay_from() or state.get("decay_from", state["step"]) < state["step"]
        )
        if rescheduled and past_decay:
            raise SaeError(
                f"the checkpoint is at step {state['step']}, past the learning-rate decay of this or its own "
                "token budget: continue it with its own --tokens"
            )
        self.params = {name: t.requires_grad_() for name, t in state["params"].items()}
        self.scale, self.variance, self.step = state["scale"], state["variance"], state["step"]
        self.since_fire, self.seconds = state["since_fire"], state["seconds"]
        self.resampled = state.get("resampled", 0)
        self.basis = state.get("basis")
        self._optim_state = state["optim"]

    def _save(self) -> None:
        state = {
            "params": {name: t.detach() for name, t in self.params.items()},
            "optim": self.optim.state_dict(),
            "scale": self.scale,
            "variance": self.variance,
            "step": self.step,
            "since_fire": self.since_fire,
            "seconds": self.seconds + self.run_seconds,
            "decay_from": self._decay_from(),
            "total_steps": self.total_steps,
            "resampled": self.resampled,
            "basis": self.basis,
        }
        tmp = self.state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.state_path)

    def _batch_positions(self, step: int) -> torch.Tensor:
        batch = self.config.batch
        start = step * batch
        epoch, offset = divmod(start, self.pool)
        out: list[torch.Tensor] = []
        while batch > 0:
            perm = self._perm(epoch)
            take = perm[offset : offset + batch]
            out.append(take)
            batch -= take.numel()
            epoch, offset = epoch + 1, 0
        return torch.cat(out)

    def _perm(self, epoch: int) -> torch.Tensor:
        if getattr(self, "_perm_epoch", None) != epoch:
            gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch + 1)
            self._perm_cache = torch.randperm(self.pool, generator=gen)
            self._perm_epoch = epoch
        return self._perm_cache

    def _decay_from(self) -> int:
        return decay_start(self.total_steps, self.config)

    def _lr(self, step: int) -> float:
        return learning_rate(step, self.total_steps, self.config)

    def run(
        self, progress: Callable[[TrainProgress], None] | None, checkpoint_s: float, max_steps: int | None
    ) -> bool:
        cfg = self.config
        began = time.monotonic()
        last_save = began
        steps_here = 0
        fvu_avg = math.nan
        timed_from: tuple[int, float] | None = None  # (step, time) once the first steps are behind
        while self.step < self.total_steps:
            if max_steps is not None and steps_here >= max_steps:
                self.run_seconds = time.monotonic() - began
                self._save()
                return False
            x = self.cache.train_rows(self._batch_positions(self.step)) * self.scale
            dead = self.since_fire >= cfg.dead_tokens
            out = train_step(
                self.params,
                x,
                k=cfg.k,
                dead=dead if bool(dead.any()) else None,
                aux_k=cfg.aux_k,
                aux_coef=cfg.aux_coef,
                variance=self.variance,
                low_precision=self.low_precision,
                aux_tokens=cfg.aux_tokens,
                basis=self.basis,
            )
            self.optim.zero_grad(set_to_none=True)
            out.backward(self.params)
            constrain_decoder(self.params["W_dec"])
            for group in self.optim.param_groups:
                group["lr"] = self._lr(self.step)
            self.optim.step()
            normalise_decoder(self.params["W_dec"].data)
            fired = torch.zeros(self.d_sae, dtype=torch.bool)
            fired[out.idx.reshape(-1)] = True
            self.since_fire += x.shape[0]
            self.since_fire[fired] = 0
            if cfg.reset_dead_moments:
                # Died this step: silent for at least dead_tokens, but not one batch earlier.
                died = (self.since_fire >= cfg.dead_tokens) & (self.since_fire < cfg.dead_tokens + x.shape[0])
                forget_latents(self.optim, self.params, died.nonzero(as_tuple=True)[0])
            self.step += 1
            steps_here += 1
            if self._resample_due():
                self._resample()
            fvu_avg = out.mse if math.isnan(fvu_avg) else 0.95 * fvu_avg + 0.05 * out.mse
            now = time.monotonic()
            if steps_here == UNTIMED_STEPS:
                timed_from = (self.step, now)
            estimate_due = steps_here == FIRST_ESTIMATE_AT or now - last_save >= checkpoint_s
            if self.budget and timed_from and estimate_due:
                self._fit_budget(self.budget, now, timed_from)
            if progress:
                dead_now = float((self.since_fire >= cfg.dead_tokens).float().mean())
                total = self.total_steps * cfg.batch
                progress(TrainProgress("training", self.step * cfg.batch, total, fvu_avg, dead_now))
            if now - last_save >= checkpoint_s:
                self.run_seconds = now - began
                self._save()
                last_save = now
        self.run_seconds = time.monotonic() - began
        self._save()
        return True

    def _fit_budget(self, budget: TimeBudget, now: float, timed_from: tuple[int, float]) -> None:
        """The schedule's length from this run's mean step time since ``timed_from``."""
        if self.step > timed_from[0]:
            per_step = (now - timed_from[1]) / (self.step - timed_from[0])
            self.total_steps = budget.total_steps(self.step, now, per_step)

    def _resample_due(self) -> bool:
        every, batch = self.config.resample_tokens, self.config.batch
        if every <= 0 or self.step >= self.config.resample_until * self.total_steps:
            return False
        return (self.step * batch) // every > ((self.step - 1) * batch) // every

    def _resample(self) -> None:
        """Dead latents to high-error tokens (engine/sae/resample.py), drawn from a sample that
        depends only on the seed and the step, so a resumed run resamples the same way."""
        dead = self.since_fire >= self.config.dead_tokens
        if not bool(dead.any()):
            return
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + 7_777_777 + self.step)
        positions = torch.randperm(self.pool, generator=gen)[: self.config.resample_sample]
        x = self.cache.train_rows(positions) * self.scale
        moved = resample_dead(self.params, self.optim, x, dead, k=self.config.k, generator=gen)
        if moved:
            self.since_fire[dead] = 0
        self.resampled += moved

    def to_full_encoder(self) -> None:
        """After training: a subspace encoder becomes the SAE's full ``basis @ W_enc`` (once)."""
        if self.basis is not None:
            self.params["W_enc"] = (self.basis @ self.params["W_enc"].detach()).requires_grad_()
            self.basis = None

    def refit(self) -> dict[str, float]:
        """Refit the decoder by least squares on ``refit_tokens`` training tokens, the encoder
        fixed (engine/sae/refit.py); returns its seconds and the FVU on those tokens before and
        after (an in-sample figure: the held-out one is the report's)."""
        self.to_full_encoder()
        n = min(self.config.refit_tokens, self.pool)
        if n == 0:
            return {"seconds": 0.0}
        began = time.monotonic()
        gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + 5_555_555)
        positions = torch.randperm(self.pool, generator=gen)[:n]

        def batches() -> Iterator[torch.Tensor]:
            for chunk in positions.split(self.config.batch):
                yield self.cache.train_rows(chunk) * self.scale

        before, after = refit_decoder(self.params, batches(), self.config.k, ridge=self.config.refit_ridge)
        return {
            "seconds": round(time.monotonic() - began, 1),
            "tokens": n,
            "train_fvu_before": before,
            "train_fvu_after": after,
        }

    def export(self, hook: HookSite, model_name: str) -> SparseAutoencoder:
        """The trained SAE reading raw activations (decoder rows unit-norm unless refit).

        Trained on x·s: TopK((x·s - b)W + c) / s = TopK((x - b/s)W + c/s), and TopK and ReLU
        commute with a positive scale, so dividing the biases by s gives latents in raw units
        (a latent's value times its decoder row's norm, 1 unless refit, is the length of its
        contribution to the raw activation)."""
        self.to_full_encoder()
        sae = SparseAutoencoder(self.d_in, self.d_sae, self.config.k, hook, meta={"model_name": model_name})
        p = {name: t.detach() for name, t in self.params.items()}
        with torch.no_grad():
            sae.W_enc.copy_(p["W_enc"])
            sae.b_enc.copy_(p["b_enc"] / self.scale)
            sae.W_dec.copy_(p["W_dec"])
            sae.b_dec.copy_(p["b_dec"] / self.scale)
        sae.meta["input_scale"] = self.scale
        return sae.eval().requires_grad_(False)
