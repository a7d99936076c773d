"""A wall-clock budget for a training run (`neuronquest sae train --minutes M`).

How many tokens fit in M minutes depends on the CPU (bfloat16 units or not) and on what else runs
on it: the rank-768 recipe trained at 5,874 tokens/s on session 11's AVX2-only EPYC and at ~9,400
on session 12's AVX512-BF16 one, both 2-core machines of the same kind (docs/SAE.md). A fixed
``--tokens`` sized on one machine overruns or wastes the budget on another, so with a budget the
trainer measures its own step time and sets the schedule's length from it: after its first steps
and again at every checkpoint it asks how many steps still fit before the deadline, keeping back
what comes after training (the decoder refit, whose cost scales with a step's, and the export and
held-out report).

The learning-rate schedule is a function of the step and the total (engine/sae/train.py), so a
new estimate moves the decay's start and slope a little; the estimates settle within the first
minutes, and a run that slows down late still ends on time, with its decay a little steeper.
"""

from __future__ import annotations

from dataclasses import dataclass

# What the run does after its last step besides the refit, in seconds: export, the held-out report
# (FVU, splice on 128 windows) and saving. MiniLM layer 3 on a 2-core AVX512-BF16 EPYC: ~29 s with the
# model's load and the corpus windows before the cache (a --minutes 4 run, session 12).
AFTER_TRAINING_S = 30.0
# The refit's cost per token as a multiple of a training step's per token: it runs the full encoder
# in float32 (a rank-768 training step does not) and scatters k² products per token. MiniLM layer 3,
# AVX512-BF16 (a bfloat16 training step), rank 768: 55.6 s for 262,144 tokens against 27 s of training
# for as many: 2.06x; with a float32 step (an AVX2-only CPU) the ratio is smaller, the reserve ample.
REFIT_COST_PER_STEP_TOKEN = 2.2
# Kept unspent, as a share of the whole budget: the speed drifts (other processes, dead latents'
# AuxK, checkpoints).
MARGIN = 0.02
# A run's first steps warm caches and allocators: its clock starts after them.
UNTIMED_STEPS = 3
# Steps timed before the first estimate.
FIRST_ESTIMATE_STEPS = 10
# The run's step (counted from its start) at which the first estimate is made.
FIRST_ESTIMATE_AT = UNTIMED_STEPS + FIRST_ESTIMATE_STEPS


@dataclass(frozen=True)
class TimeBudget:
    deadline: float  # time.monotonic() by which the whole command should have ended
    seconds: float  # the whole budget (for the margin)
    batch: int
    refit_tokens: int

    def total_steps(self, step: int, now: float, seconds_per_step: float) -> int:
        """The schedule's length that ends training in time for what follows it (at least one
        more step: a run whose budget is spent still finishes the step it is at)."""
        per_token = seconds_per_step / self.batch
        after = AFTER_TRAINING_S + self.refit_tokens * per_token * REFIT_COST_PER_STEP_TOKEN
        left = self.deadline - now - after - MARGIN * self.seconds
        return step + max(1, int(left / max(seconds_per_step, 1e-9)))
