"""What a TopK SAE's training run is: its settings (TrainConfig) and the defaults that depend
on this CPU (whether it has bfloat16 matrix units, and so how many tokens 30 minutes allow).
The run itself is engine/sae/train.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.sae.model import SaeError

BF16_CPU_FLAGS = {"amx_bf16", "avx512_bf16"}


def fast_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (else torch emulates it, slowly)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return bool(BF16_CPU_FLAGS & set(flags))


# Training tokens that fit in 30 minutes of `neuronquest sae train --model minilm-l6 --layer 3` (model,
# corpus windows, activation cache, training at the default batch, refit and report) on a 2-core CPU:
# with bfloat16 units, 8M at ~5,800-6,400 tokens/s (session 10's EPYC with AVX512-BF16); without
# them the encoder runs in float32: 3M, session 7's timed run on an AVX2 EPYC (24 min 42 s).
# docs/SAE.md has the runs.
TOKENS_BFLOAT16_CPU = 8_000_000
TOKENS_FLOAT32_CPU = 3_000_000


# `neuronquest sae train`'s time budget when neither --tokens nor --minutes is given: the whole run
# within 30 minutes with ~1 to spare (session 12: a 29.5-minute budget ended at 28 min 30 s).
DEFAULT_MINUTES = 29.5


def default_tokens() -> int:
    """The default training budget, sized for this CPU's arithmetic (see TOKENS_BFLOAT16_CPU)."""
    return TOKENS_BFLOAT16_CPU if fast_bfloat16() else TOKENS_FLOAT32_CPU


@dataclass(frozen=True)
class TrainConfig:
    model: str
    layer: int
    site: str = "mlp_post"
    expansion: int = 4
    k: int = 32
    # Training tokens: by default what 30 minutes allow on this CPU (default_tokens: 8M with
    # bfloat16 units, ~13 epochs over MiniLM's pool; 3M without).
    tokens: int = field(default_factory=default_tokens)
    # A wall-clock budget for the whole run in minutes (0: none, ``tokens`` decides). With one, the
    # schedule's length comes from the step time measured while training (engine/sae/budget.py),
    # ``tokens`` is ignored and the whole pool is trained on.
    minutes: float = 0.0
    # 2,048 learned ~1.6x more per token than 4,096 on 1.2M-token schedules, but over 7M tokens it
    # killed latents (16 % dead at 1.9M tokens, lr 2e-3 constant until 1.4M): docs/SAE.md, session 10.
    batch: int = 4096
    # 3e-3 learns fastest early but knocks rare latents out (19 % dead at 6.5M tokens); 1e-3 kept
    # every latent but reached FVU 0.217; 2e-3 with 9M tokens: 0.203 and 2.7 % dead (docs/SAE.md).
    lr: float = 2e-3
    seed: int = 0
    window: int = 64
    heldout_tokens: int = 32_768
    # Also train on the corpus cut half a window later (engine/sae/data.py: twice the contexts,
    # none touching a held-out token), at twice the activation cache's time and disk.
    shifted_windows: bool = False
    aux_k: int = 512
    aux_tokens: int = 1024  # AuxK on this many of the batch's tokens (a random subset: batches are)
    aux_coef: float = 1 / 8  # 4x Gao et al.'s 1/32: a dead latent's Adam state is scaled to its old gradients
    dead_tokens: int = 200_000  # silent this many training tokens: dead, AuxK revives it
    # Zero a latent's Adam moments when it dies, so AuxK's small gradient moves it at full speed.
    # Off: on MiniLM layer 3 (100k-token window) dead latents climbed to 21 % by 1M tokens with it.
    reset_dead_moments: bool = False
    # The learning rate decays linearly over this last share of the steps. 0.8: the run of the SAE in
    # /work/sae/minilm-l6-l3 (docs/SAE.md: held-out FVU 0.206 at 6.5M tokens; 0.2 gave 0.209 at 4.5M).
    decay_fraction: float = 0.8
    lr_floor: float = 0.1  # ... towards this fraction of lr: revival goes on through the decay
    # Every this many tokens, dead latents move to high-error tokens' residuals (engine/sae/resample.py);
    # 0: never. Only before ``resample_until`` of the steps, so the moved ones must prove themselves.
    # Off: on MiniLM layer 3, every 250k tokens, each resampling cost ~0.04 FVU for ~150k tokens and
    # other latents died as fast as before (docs/SAE.md).
    resample_tokens: int = 0
    resample_until: float = 0.8
    resample_sample: int = 16_384  # tokens whose reconstruction error the picks are drawn from
    # After training, the decoder and b_dec refit by least squares on this many training tokens
    # (a seeded sample of the pool), the encoder fixed (engine/sae/refit.py); 0: no refit. On a
    # 1M-token MiniLM SAE, validation FVU 0.273 -> 0.265 for ~1 min here; at 6M 0.213 -> 0.212 (docs/SAE.md).
    refit_tokens: int = 262_144
    # Times the mean diagonal of ZᵀZ, pulling toward the trained decoder: 1e-2 beat 1e-3 and 1e-4.
    refit_ridge: float = 1e-2
    corpus: str = "default"
    # The encoder's forward matmul in bfloat16: ~2.5x faster on a CPU with bfloat16 matrix units
    # (AMX, AVX512-BF16), ~4.6x slower without them (emulated). None: decided by the CPU.
    low_precision: bool | None = None
    # The encoder reads the input's top ``encoder_rank`` principal components only (0: all of them):
    # its matmul costs rank/d_in of the full one. Off: on MiniLM layer 3 (AVX2 EPYC, float32, one
    # thread) rank 768 took 0.69x the CPU of the full encoder over 500k tokens and reached validation
    # FVU 0.3150 against 0.3216 at 500k, 0.2698 against 0.2729 at 1M, 0.2392 against 0.2427 at 2M;
    # at the 30-minute budget (9M tokens, AVX2, one held-out run) held-out FVU 0.2047, dead 0.02 %;
    # with shifted windows and a 29.5-minute budget on an AVX512-BF16 CPU (13.9M tokens) 0.1983.
    # Off by default: compared with the full encoder on validation only up to 2M tokens, and only
    # on MiniLM's 1,536-wide layer (docs/SAE.md, sessions 11 and 12).
    encoder_rank: int = 0

    def check(self) -> None:
        if self.expansion < 1 or self.k < 1 or self.tokens < 1 or self.batch < 1:
            raise SaeError("expansion, k, tokens and batch must be positive")
        if self.minutes < 0:
            raise SaeError("minutes must not be negative (0: no time budget)")
        if self.lr <= 0 or self.heldout_tokens < self.window:
            raise SaeError("lr must be positive and heldout_tokens at least one window")
        if not (0 <= self.decay_fraction <= 1 and 0 <= self.lr_floor <= 1 and 0 <= self.resample_until <= 1):
            raise SaeError("decay_fraction, lr_floor and resample_until must be between 0 and 1")
        if self.refit_tokens < 0 or self.refit_ridge <= 0:
            raise SaeError("refit_tokens must not be negative and refit_ridge must be positive")
        if self.encoder_rank < 0 or (self.encoder_rank and self.resample_tokens):
            raise SaeError(
                "encoder_rank must not be negative, and resampling needs the full encoder (rank 0)"
            )
        if self.dead_tokens < 1 or self.aux_coef < 0 or self.resample_tokens < 0 or self.resample_sample < 1:
            raise SaeError(
                "dead_tokens and resample_sample must be positive, aux_coef and resample_tokens not negative"
            )
