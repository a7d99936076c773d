"""The tokens an SAE trains and is judged on: corpus windows, a held-out split, and their site
activations cached on disk (float16 memmap) so every epoch after the first costs no forward pass.

Windows are the mining windows (engine/corpus, same length); a seeded permutation puts the
held-out windows first and the training windows after them (optionally with the same stream cut
half a window later, for a pool of twice as many contexts, none touching a held-out token). The
cache fills in window order, records how far it got in a small JSON beside it, and a rerun
continues from there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.models import NeuronModel

CACHE_FILE = "activations.f16"
CACHE_STATE = "activations.json"


@dataclass
class Split:
    windows: torch.Tensor  # [n_held + n_train, window] int32: held-out first
    n_held: int

    @property
    def window(self) -> int:
        return int(self.windows.shape[1])

    @property
    def heldout_windows(self) -> torch.Tensor:
        return self.windows[: self.n_held]

    @property
    def n_train_tokens(self) -> int:
        return (self.windows.shape[0] - self.n_held) * self.window


def split_windows(
    all_windows: torch.Tensor, heldout_tokens: int, train_tokens: int, seed: int, *, shifted: bool = False
) -> Split:
    """Held-out windows (``heldout_tokens`` worth) then as many training windows as
    ``train_tokens`` needs (every one left when it needs more: later epochs repeat them).

    ``all_windows`` are consecutive cuts of one token stream (engine/corpus.make_windows).
    ``shifted`` adds to the training pool the windows cut half a window later, each token
    then also seen in a second context; those that share a token with a held-out window are
    left out, so no held-out token is ever in a training window."""
    n, width = all_windows.shape
    n_held = max(1, -(-heldout_tokens // width))
    if n_held >= n:
        raise ValueError(f"the corpus has {n} windows of {width} tokens: too few to hold out {n_held}")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=gen)
    held, train = all_windows[order[:n_held]], all_windows[order[n_held:]]
    if shifted:
        train = torch.cat([train, _shifted_windows(all_windows, order[:n_held])])
        train = train[torch.randperm(train.shape[0], generator=gen)]
    n_train = min(train.shape[0], max(1, -(-train_tokens // width)))
    return Split(torch.cat([held, train[:n_train]]).contiguous(), n_held)


def _shifted_windows(all_windows: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """The stream's windows starting half a window after each window's start, but for those
    overlapping a held-out window (shifted window j spans windows j and j + 1)."""
    n, width = all_windows.shape
    half = width // 2
    stream = all_windows.reshape(-1)[half : half + (n - 1) * width]
    shifted = stream.view(n - 1, width)
    is_held = torch.zeros(n, dtype=torch.bool)
    is_held[held] = True
    return shifted[~(is_held[:-1] | is_held[1:])]


class ActivationCache:
    """[tokens, d] float16 site activations of a split's windows, in window order."""

    def __init__(self, directory: Path, split: Split, width: int, fingerprint: str) -> None:
        self.path = directory / CACHE_FILE
        self.state_path = directory / CACHE_STATE
        self.split = split
        self.width = width
        self.n_tokens = split.windows.shape[0] * split.window
        self.fingerprint = fingerprint
        state = self._state()
        if state.get("fingerprint") != fingerprint or not self.path.exists():
            state = {"fingerprint": fingerprint, "filled_windows": 0}
            self.path.unlink(missing_ok=True)
            self._write_state(state)
        self.filled = int(state["filled_windows"])
        mode = "r+" if self.path.exists() else "w+"
        self.data = np.memmap(self.path, dtype=np.float16, mode=mode, shape=(self.n_tokens, width))

    def _state(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.state_path.read_text()))
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, object]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    @property
    def complete(self) -> bool:
        return self.filled >= self.split.windows.shape[0]

    def fill(
        self,
        model: NeuronModel,
        layer: int,
        site: str,
        *,
        batch_windows: int = 64,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Run the model over the windows not cached yet; ``progress(done, total)`` in windows."""
        total = self.split.windows.shape[0]
        width = self.split.window
        while self.filled < total:
            stop = min(total, self.filled + batch_windows)
            acts = model.window_activations(self.split.windows[self.filled : stop], layer, site=site)
            rows = acts.reshape(-1, self.width).to(torch.float16).numpy()
            self.data[self.filled * width : stop * width] = rows
            self.filled = stop
            if stop == total or stop % (batch_windows * 8) == 0:
                self.data.flush()
                self._write_state({"fingerprint": self.fingerprint, "filled_windows": self.filled})
            if progress is not None:
                progress(self.filled, total)

    def heldout(self) -> torch.Tensor:
        n = self.split.n_held * self.split.window
        return torch.from_numpy(np.asarray(self.data[:n], dtype=np.float32))

    def train_rows(self, positions: torch.Tensor) -> torch.Tensor:
        """Float32 rows of training tokens at ``positions`` (0 = the first training token)."""
        offset = self.split.n_held * self.split.window
        index = np.sort(positions.numpy()) + offset  # sorted: the memmap reads forward
        return torch.from_numpy(np.asarray(self.data[index], dtype=np.float32))

    def remove(self) -> None:
        del self.data
        self.path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)
