"""Mining: stream token windows through a model and keep, per neuron, what explains it.

For every neuron of a contiguous range at once (tensors [neurons, ...], no Python loop
over neurons): the top ``top_k`` windows by max activation (torch.topk over the kept
windows plus the new batch), ``n_random`` windows by reservoir sampling (seeded), max,
mean, the fraction of tokens with activation > 0, and a histogram. The state is
checkpointed to a file so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from engine.models import NeuronModel
from engine.records import ActivationRecord

HIST_BINS = 24


class MiningInterrupted(Exception):
    """The build was stopped; its state is in the checkpoint and it can resume."""


@dataclass
class NeuronSummary:
    index: int
    max_activation: float
    mean_activation: float
    frac_active: float
    histogram: dict[str, Any]
    top: list[ActivationRecord]
    random: list[ActivationRecord]


@dataclass
class MiningProgress:
    tokens: int
    total: int
    tokens_per_s: float
    eta_s: float

    def to_event(self) -> dict[str, Any]:
        return {"type": "progress", **self.__dict__}


@dataclass
class MiningState:
    """Everything a build has learnt so far; replaced whole after each batch (interrupt-safe)."""

    windows_done: int
    top_vals: torch.Tensor  # [N, K] window max, descending; -inf where empty
    top_ids: torch.Tensor  # [N, K] window index; -1 where empty
    top_acts: torch.Tensor  # [N, K, W]
    rand_ids: torch.Tensor  # [N, R]
    rand_acts: torch.Tensor  # [N, R, W]
    act_sum: torch.Tensor  # [N] float64
    act_max: torch.Tensor  # [N]
    active: torch.Tensor  # [N] int64: tokens with activation > 0
    hist_lo: torch.Tensor  # [N]; bins fixed from the first batch
    hist_hi: torch.Tensor  # [N]
    hist_counts: torch.Tensor  # [N, HIST_BINS] int64
    rng_state: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.uint8))

    @classmethod
    def empty(cls, n: int, top_k: int, n_random: int, window: int, device: torch.device) -> MiningState:
        def z(*shape: int, dtype: torch.dtype = torch.float32, fill: float = 0.0) -> torch.Tensor:
            return torch.full(shape, fill, dtype=dtype, device=device)

        return cls(
            windows_done=0,
            top_vals=z(n, top_k, fill=float("-inf")),
            top_ids=z(n, top_k, dtype=torch.long, fill=-1),
            top_acts=z(n, top_k, window),
            rand_ids=z(n, n_random, dtype=torch.long, fill=-1),
            rand_acts=z(n, n_random, window),
            act_sum=z(n, dtype=torch.float64),
            act_max=z(n, fill=float("-inf")),
            active=z(n, dtype=torch.long),
            hist_lo=z(n),
            hist_hi=z(n),
            hist_counts=z(n, HIST_BINS, dtype=torch.long),
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def windows_fingerprint(windows: torch.Tensor) -> str:
    return hashlib.sha1(windows.contiguous().numpy().tobytes()).hexdigest()


def _update(s: MiningState, acts: torch.Tensor, first_id: int, generator: torch.Generator) -> MiningState:
    """The state after one batch of activations [B, W, N] of windows first_id.. first_id+B-1."""
    batch, _width, n = acts.shape
    dev = acts.device
    by_neuron = acts.permute(2, 0, 1)  # [N, B, W]
    win_max = by_neuron.amax(dim=2)  # [N, B]
    k = s.top_vals.shape[1]
    # Top-k: rank the kept windows and the batch's together, then gather the winners' tokens.
    cand_vals = torch.cat([s.top_vals, win_max], dim=1)
    top_vals, pos = cand_vals.topk(k, dim=1)
    batch_ids = torch.arange(first_id, first_id + batch, device=dev).expand(n, batch)
    top_ids = torch.cat([s.top_ids, batch_ids], dim=1).gather(1, pos)
    from_old = (pos < k).unsqueeze(2)
    w_index = lambda p: p.unsqueeze(2).expand(-1, -1, by_neuron.shape[2])  # noqa: E731
    old = s.top_acts.gather(1, w_index(pos.clamp(max=k - 1)))
    new = by_neuron.gather(1, w_index((pos - k).clamp(min=0)))
    top_acts = torch.where(from_old, old, new)

    # Reservoir sampling, one independent reservoir per neuron (window by window, in order).
    rand_ids, rand_acts = s.rand_ids.clone(), s.rand_acts.clone()
    r = rand_ids.shape[1]
    rows = torch.arange(n, device=dev)
    for b in range(batch):
        seen = first_id + b
        if seen < r:
            rand_ids[:, seen] = seen
            rand_acts[:, seen] = by_neuron[:, b]
            continue
        slot = torch.randint(0, seen + 1, (n,), generator=generator).to(dev)
        hit = slot < r
        if hit.any():
            rows_hit, slot_hit = rows[hit], slot[hit]
            rand_ids[rows_hit, slot_hit] = seen
            rand_acts[rows_hit, slot_hit] = by_neuron[rows_hit, b]

    flat = by_neuron.reshape(n, -1)  # [N, B*W]
    hist_lo, hist_hi = s.hist_lo, s.hist_hi
    if s.windows_done == 0:
        # Bins are fixed by the first batch, with room above for larger activations to come;
        # values outside land in the end bins (the histogram says so).
        lo, hi = flat.amin(dim=1), flat.amax(dim=1)
        hist_lo, hist_hi = lo, hi + (hi - lo).clamp(min=1e-3)
    scaled = (flat - hist_lo[:, None]) / (hist_hi - hist_lo)[:, None] * HIST_BINS
    bins = scaled.floor().clamp(0, HIST_BINS - 1).long() + (rows * HIST_BINS)[:, None]
    counts = torch.bincount(bins.flatten(), minlength=n * HIST_BINS).view(n, HIST_BINS)

    return MiningState(
        windows_done=s.windows_done + batch,
        top_vals=top_vals,
        top_ids=top_ids,
        top_acts=top_acts,
        rand_ids=rand_ids,
        rand_acts=rand_acts,
        act_sum=s.act_sum + flat.sum(dim=1, dtype=torch.float64),
        act_max=torch.maximum(s.act_max, flat.amax(dim=1)),
        active=s.active + (flat > 0).sum(dim=1),
        hist_lo=hist_lo,
        hist_hi=hist_hi,
        hist_counts=s.hist_counts + counts,
    )


class Miner:
    """One build: model + layer + neuron range + windows; ``run()`` returns the summaries."""

    def __init__(
        self,
        model: NeuronModel,
        windows: torch.Tensor,
        layer: int,
        neurons: range,
        *,
        top_k: int = 20,
        n_random: int = 20,
        batch_size: int | None = None,
        seed: int = 0,
        checkpoint: Path | None = None,
        checkpoint_every_s: float = 30.0,
    ) -> None:
        model.check_layer(layer)
        model.neuron_index(neurons)
        self.model, self.windows, self.layer, self.neurons = model, windows, layer, neurons
        self.top_k, self.n_random, self.seed = top_k, n_random, seed
        self.batch_size = batch_size or (128 if model.device.type == "cuda" else 32)
        self.checkpoint, self.checkpoint_every_s = checkpoint, checkpoint_every_s
        self.meta = {
            "model": model.name,
            "layer": layer,
            "neurons": [neurons.start, neurons.stop],
            "top_k": top_k,
            "n_random": n_random,
            "seed": seed,
            "windows": windows_fingerprint(windows),
        }

    @property
    def total_tokens(self) -> int:
        return int(self.windows.numel())

    def _fresh_state(self) -> tuple[MiningState, torch.Generator]:
        generator = torch.Generator().manual_seed(self.seed)
        n, width = len(self.neurons), self.windows.shape[1]
        return MiningState.empty(n, self.top_k, self.n_random, width, self.model.device), generator

    def load_checkpoint(self) -> tuple[MiningState, torch.Generator]:
        if self.checkpoint is None or not self.checkpoint.exists():
            return self._fresh_state()
        saved = torch.load(self.checkpoint, map_location=self.model.device, weights_only=True)
        if saved.get("meta") != self.meta:
            raise ValueError(
                f"checkpoint {self.checkpoint} belongs to a build with other settings or corpus; "
                "delete it or build under another name"
            )
        state = MiningState(**saved["state"])
        generator = torch.Generator()
        generator.set_state(state.rng_state.cpu())
        return state, generator

    def save_checkpoint(self, state: MiningState, generator: torch.Generator) -> None:
        if self.checkpoint is None:
            return
        state.rng_state = generator.get_state()
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save({"meta": self.meta, "state": state.to_dict()}, tmp)
        os.replace(tmp, self.checkpoint)  # atomic: a crash mid-write keeps the old checkpoint

    def run(
        self,
        on_progress: Callable[[MiningProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        progress_every_s: float = 0.5,
    ) -> list[NeuronSummary]:
        state, generator = self.load_checkpoint()
        width = self.windows.shape[1]
        n_windows = self.windows.shape[0]
        start_time = last_report = last_save = time.monotonic()
        start_done = state.windows_done
        reported = False
        try:
            while state.windows_done < n_windows:
                if should_stop is not None and should_stop():
                    raise MiningInterrupted(f"stopped after {state.windows_done * width} tokens")
                first = state.windows_done
                batch = self.windows[first : first + self.batch_size]
                acts = self.model.window_activations(batch, self.layer, self.neurons, to_cpu=False)
                state = _update(state, acts, first, generator)
                now = time.monotonic()
                # First batch of every run (so resumes show at once), then a few per second at most.
                if on_progress is not None and (now - last_report >= progress_every_s or not reported):
                    last_report, reported = now, True
                    on_progress(self._progress(state, start_done, now - start_time))
                if now - last_save >= self.checkpoint_every_s:
                    last_save = now
                    self.save_checkpoint(state, generator)
        except (KeyboardInterrupt, MiningInterrupted):
            self.save_checkpoint(state, generator)
            raise
        if on_progress is not None:
            on_progress(self._progress(state, start_done, time.monotonic() - start_time))
        return self.summaries(state)

    def _progress(self, state: MiningState, start_done: int, elapsed: float) -> MiningProgress:
        width = self.windows.shape[1]
        tokens = state.windows_done * width
        rate = (state.windows_done - start_done) * width / max(elapsed, 1e-9)
        eta = (self.total_tokens - tokens) / rate if rate > 0 else 0.0
        return MiningProgress(tokens=tokens, total=self.total_tokens, tokens_per_s=rate, eta_s=eta)

    def _record(self, window_id: int, acts: torch.Tensor, kind: str) -> ActivationRecord:
        tokens = self.model.token_strings(self.windows[window_id].tolist())
        return ActivationRecord(
            tokens, [float(a) for a in acts.tolist()], kind=kind, meta={"window": window_id}
        )

    def summaries(self, state: MiningState) -> list[NeuronSummary]:
        tokens = max(state.windows_done * self.windows.shape[1], 1)
        cpu = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in state.to_dict().items()}
        out = []
        for i, neuron in enumerate(self.neurons):
            top = [
                self._record(int(w), cpu["top_acts"][i, j], "top")
                for j, w in enumerate(cpu["top_ids"][i].tolist())
                if w >= 0
            ]
            rand = [
                self._record(int(w), cpu["rand_acts"][i, j], "random")
                for j, w in enumerate(cpu["rand_ids"][i].tolist())
                if w >= 0
            ]
            lo, hi = float(cpu["hist_lo"][i]), float(cpu["hist_hi"][i])
            edges = torch.linspace(lo, hi, HIST_BINS + 1).tolist()
            histogram = {
                "edges": [round(e, 6) for e in edges],
                "counts": cpu["hist_counts"][i].tolist(),
                "note": "values below the first edge count in the first bin, above the last in the last",
            }
            out.append(
                NeuronSummary(
                    index=neuron,
                    max_activation=float(cpu["act_max"][i]),
                    mean_activation=float(cpu["act_sum"][i]) / tokens,
                    frac_active=float(cpu["active"][i]) / tokens,
                    histogram=histogram,
                    top=top,
                    random=rand,
                )
            )
        return out
