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

from engine.records import ActivationRecord
from engine.units import LatentModel, UnitModel

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
    """Everything a build has learnt so far; ``_update`` folds each batch in, in place."""

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


def _update(s: MiningState, acts: torch.Tensor, first_id: int, generator: torch.Generator) -> None:
    """Fold one batch of activations [B, W, N] (windows first_id.. first_id+B-1) into ``s``, in place.

    Works in the activations' own [B, W, N] layout (no transposing copy of the batch); only
    neurons whose top-k actually changes are gathered, which after the first batches is few.
    """
    acts = acts.contiguous()  # a view cut out of the hooked tensor; one compacting copy at most
    batch, width, n = acts.shape
    dev = acts.device
    win_max = acts.amax(dim=1).t()  # [N, B]
    k = s.top_vals.shape[1]
    rows = (win_max > s.top_vals[:, -1:]).any(dim=1).nonzero(as_tuple=True)[0]
    if rows.numel():
        # Early on every neuron changes: then skip the row indexing (a copy) altogether.
        pick = (lambda t: t) if rows.numel() == n else (lambda t: t[rows])
        by_neuron = pick(acts.permute(2, 0, 1))  # [r, B, W]
        vals, pos = torch.cat([pick(s.top_vals), pick(win_max)], dim=1).topk(k, dim=1)
        batch_ids = torch.arange(first_id, first_id + batch, device=dev).expand(rows.numel(), batch)
        ids = torch.cat([pick(s.top_ids), batch_ids], dim=1).gather(1, pos)
        old = pick(s.top_acts).gather(1, pos.clamp(max=k - 1).unsqueeze(2).expand(-1, -1, width))
        new = by_neuron.gather(1, (pos - k).clamp(min=0).unsqueeze(2).expand(-1, -1, width))
        merged = torch.where((pos < k).unsqueeze(2), old, new)
        if rows.numel() == n:
            s.top_vals, s.top_ids, s.top_acts = vals, ids, merged
        else:
            s.top_vals[rows], s.top_ids[rows], s.top_acts[rows] = vals, ids, merged

    _reservoir(s, acts, first_id, generator)

    flat = acts.view(batch * width, n)
    if s.windows_done == 0:
        # Bins are fixed by the first batch, with room above for larger activations to come;
        # values outside land in the end bins (the histogram says so).
        lo, hi = flat.amin(dim=0), flat.amax(dim=0)
        s.hist_lo, s.hist_hi = lo, hi + (hi - lo).clamp(min=1e-3)
    scale = HIST_BINS / (s.hist_hi - s.hist_lo)
    bins = (flat - s.hist_lo).mul_(scale).clamp_(0, HIST_BINS - 0.5).to(torch.int32)
    bins += torch.arange(n, device=dev, dtype=torch.int32) * HIST_BINS
    s.hist_counts += torch.bincount(bins.view(-1), minlength=n * HIST_BINS).view(n, HIST_BINS)
    s.act_sum += flat.sum(dim=0).double()
    torch.maximum(s.act_max, win_max.amax(dim=1), out=s.act_max)
    s.active += (flat > 0).sum(dim=0)
    s.windows_done += batch


def _reservoir(s: MiningState, acts: torch.Tensor, first_id: int, generator: torch.Generator) -> None:
    """Reservoir sampling (algorithm R), one independent reservoir per neuron, a batch at once.

    Window number ``seen`` goes to slot ``floor(u * (seen + 1))`` when that is < R (the first
    R windows fill slots 0..R-1); when several windows of one batch pick the same slot of a
    neuron, the latest wins, exactly as if they had been offered one by one.
    """
    batch, _width, n = acts.shape
    r = s.rand_ids.shape[1]
    dev = acts.device
    seen = torch.arange(first_id, first_id + batch, dtype=torch.float64)
    u = torch.rand((batch, n), generator=generator, dtype=torch.float64)
    slot = (u * (seen[:, None] + 1)).floor().long()  # [B, N], drawn on the CPU: seeded anywhere
    filling = seen < r
    slot[filling] = seen[filling].long()[:, None].expand(-1, n)
    slot = slot.to(dev)
    hit = slot < r
    if not bool(hit.any()):
        return
    b_hit, n_hit = hit.nonzero(as_tuple=True)
    winner = torch.full((n * r,), -1, dtype=torch.long, device=dev)
    winner.scatter_reduce_(0, n_hit * r + slot[b_hit, n_hit], b_hit, reduce="amax")
    cells = (winner >= 0).nonzero(as_tuple=True)[0]
    rows, slots, wins = cells // r, cells % r, winner[cells]
    s.rand_ids[rows, slots] = first_id + wins
    s.rand_acts[rows, slots] = acts[wins, :, rows]


class Miner:
    """One build: model + layer + unit range + windows; ``run()`` returns the summaries.

    The units are a NeuronModel's neurons or a LatentModel's latents (engine/units.py): the
    same code, windows and batches for both."""

    def __init__(
        self,
        model: UnitModel,
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
        display: list[list[str]] | None = None,
    ) -> None:
        """``display``: per window, its tokens' text as the corpus wrote it (engine/corpus
        CorpusWindows); each record carries its window's in ``meta["display"]``."""
        model.check_layer(layer)
        if display is not None and len(display) != windows.shape[0]:
            raise ValueError(f"display text for {len(display)} windows, but there are {windows.shape[0]}")
        model.neuron_index(neurons)
        self.model, self.windows, self.layer, self.neurons = model, windows, layer, neurons
        self.top_k, self.n_random, self.seed = top_k, n_random, seed
        self.batch_size = batch_size or (128 if model.device.type == "cuda" else 32)
        self.checkpoint, self.checkpoint_every_s = checkpoint, checkpoint_every_s
        self.display = display
        self.meta = {
            "model": model.name,
            "layer": layer,
            "neurons": [neurons.start, neurons.stop],
            "top_k": top_k,
            "n_random": n_random,
            "seed": seed,
            "windows": windows_fingerprint(windows),
        }
        if isinstance(model, LatentModel):  # a checkpoint resumes only its own SAE's build
            self.meta["source"] = model.source

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
        reported = updating = False
        try:
            while state.windows_done < n_windows:
                if should_stop is not None and should_stop():
                    raise MiningInterrupted(f"stopped after {state.windows_done * width} tokens")
                first = state.windows_done
                batch = self.windows[first : first + self.batch_size]
                acts = self.model.window_activations(batch, self.layer, self.neurons, to_cpu=False)
                updating = True
                _update(state, acts, first, generator)
                updating = False
                now = time.monotonic()
                # First batch of every run (so resumes show at once), then a few per second at most.
                if on_progress is not None and (now - last_report >= progress_every_s or not reported):
                    last_report, reported = now, True
                    on_progress(self._progress(state, start_done, now - start_time))
                if now - last_save >= self.checkpoint_every_s:
                    last_save = now
                    self.save_checkpoint(state, generator)
        except (KeyboardInterrupt, MiningInterrupted):
            # Interrupted halfway through folding a batch in, the state is torn: keep the
            # last periodic checkpoint instead (at most checkpoint_every_s of work is redone).
            if not updating:
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

    def summaries(self, state: MiningState) -> list[NeuronSummary]:
        tokens = max(state.windows_done * self.windows.shape[1], 1)
        cpu = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in state.to_dict().items()}
        # Neurons share windows: decode each window's tokens once; convert tensors to lists once.
        strings: dict[int, list[str]] = {}

        def tokens_of(window: int) -> list[str]:
            if window not in strings:
                strings[window] = self.model.token_strings(self.windows[window].tolist())
            return strings[window]

        def records(ids: list[int], acts: list[list[float]], kind: str) -> list[ActivationRecord]:
            def meta(window: int) -> dict[str, Any]:
                if self.display is None:
                    return {"window": window}
                return {"window": window, "display": self.display[window]}

            return [
                ActivationRecord(tokens_of(w), a, kind=kind, meta=meta(w))
                for w, a in zip(ids, acts, strict=True)
                if w >= 0
            ]

        top_ids, top_acts = cpu["top_ids"].tolist(), cpu["top_acts"].tolist()
        rand_ids, rand_acts = cpu["rand_ids"].tolist(), cpu["rand_acts"].tolist()
        out = []
        for i, neuron in enumerate(self.neurons):
            top = records(top_ids[i], top_acts[i], "top")
            rand = records(rand_ids[i], rand_acts[i], "random")
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
