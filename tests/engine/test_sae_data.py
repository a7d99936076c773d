"""The SAE's training pool: held-out windows first, training windows after, and with
``shifted`` the stream cut half a window later too, never touching a held-out token."""

from __future__ import annotations

import torch

from engine.sae.data import split_windows

N, WIDTH = 40, 8


def _stream_windows() -> torch.Tensor:
    # Token i of the stream has id i, so a window's ids say where in the stream it was cut.
    return torch.arange(N * WIDTH, dtype=torch.int32).view(N, WIDTH)


def test_without_shift_the_split_is_the_seeded_permutation_of_the_windows() -> None:
    windows = _stream_windows()
    split = split_windows(windows, heldout_tokens=3 * WIDTH, train_tokens=10 * WIDTH, seed=5)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(5))
    assert split.n_held == 3
    assert torch.equal(split.windows, windows[order[:13]])


def test_shifted_windows_double_the_pool_and_never_touch_a_held_out_token() -> None:
    windows = _stream_windows()
    split = split_windows(windows, heldout_tokens=3 * WIDTH, train_tokens=10**9, seed=5, shifted=True)
    held = split.heldout_windows
    train = split.windows[split.n_held :]
    held_ids = set(held.reshape(-1).tolist())
    assert not held_ids & set(train.reshape(-1).tolist())
    starts = train[:, 0].tolist()
    # Every training window is a consecutive cut of the stream, at a whole or a half window.
    assert all(torch.equal(w, torch.arange(w[0], w[0] + WIDTH, dtype=torch.int32)) for w in train)
    assert all(s % (WIDTH // 2) == 0 for s in starts)
    aligned = [s for s in starts if s % WIDTH == 0]
    shifted = [s for s in starts if s % WIDTH != 0]
    assert len(aligned) == N - 3 and len(set(starts)) == len(starts)
    # A shifted window is left out exactly when one of the two windows it spans is held out.
    held_rows = {int(w[0]) // WIDTH for w in held}
    expected = [j for j in range(N - 1) if j not in held_rows and j + 1 not in held_rows]
    assert sorted(shifted) == [j * WIDTH + WIDTH // 2 for j in expected]
    # The held-out windows are the same with or without the shifted ones.
    plain = split_windows(windows, heldout_tokens=3 * WIDTH, train_tokens=10**9, seed=5)
    assert torch.equal(plain.heldout_windows, held)


def test_a_small_budget_takes_a_mix_of_both_cuts() -> None:
    windows = _stream_windows()
    split = split_windows(windows, heldout_tokens=WIDTH, train_tokens=20 * WIDTH, seed=1, shifted=True)
    starts = split.windows[split.n_held :, 0]
    assert split.windows.shape == (21, WIDTH)
    assert bool((starts % WIDTH == 0).any()) and bool((starts % WIDTH != 0).any())
