"""The related-neurons job on a real campaign, against the bare forward pass of its windows.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_related_neurons.py -o addopts=""

A campaign of the default model and layer (MiniLM-L6 layer 3, 256 neurons like the default
campaign) is mined from the bundled corpus, then ``related_neurons_job`` runs on it at its
default window count (512; it was 2000). Baseline in the same run: the bare forward pass of
the same windows (``model.activations``), so a busy machine slows both alike. It FAILS when a
run stores related neurons for fewer than all neurons, or when the default run takes longer
than RQ's default job timeout (180 s), which the 2000-window job used to hit.
"""

from __future__ import annotations

import os
import time

from sqlmodel import col, select

from config.settings import Settings
from engine.corpus import make_windows
from engine.mining import Miner
from engine.models import load_model
from store.campaigns import finish_campaign, start_campaign
from store.db import Database
from store.models import Campaign, Snippet
from workers import context
from workers.reference import RELATED_MAX_WINDOWS, _texts, related_neurons_job

NEURONS = range(0, 256)
TOKENS = 65_536
OLD_TIMEOUT_S = 180.0


def _mine(db: Database) -> int:
    model = load_model("minilm-l6", device="cpu")
    windows = make_windows(model, None, window=64, max_tokens=TOKENS)
    summaries = Miner(model, windows, 3, NEURONS).run()
    with db.session() as s:
        campaign = start_campaign(s, name="bench-related", model="minilm-l6", layer=3, neuron_start=0,
                                  neuron_end=NEURONS.stop, corpus="default", window=64)  # fmt: skip
        finish_campaign(s, campaign, summaries, int(windows.numel()))
        return int(campaign.id or 0)


def _bare_forward(db: Database, campaign_id: int, max_windows: int) -> float:
    model = load_model("minilm-l6", device="cpu")
    with db.session() as s:
        rows = s.exec(select(Snippet.tokens).order_by(col(Snippet.id))).all()
        assert s.get(Campaign, campaign_id) is not None
    windows = list(dict.fromkeys(tuple(t) for t in rows if t))[:max_windows]
    texts = _texts([list(w) for w in windows], model.family, model.tokenizer)
    started = time.perf_counter()
    model.activations(texts, 3, list(NEURONS))
    return time.perf_counter() - started


def test_related_neurons_job_fits_its_timeout(settings: Settings, db: Database) -> None:
    context.use_settings(settings)
    campaign_id = _mine(db)
    load = os.getloadavg()[0]
    windows = RELATED_MAX_WINDOWS
    bare = _bare_forward(db, campaign_id, windows)
    started = time.perf_counter()
    stored = related_neurons_job(campaign_id, max_windows=windows)
    took = time.perf_counter() - started
    print(f"\nrelated neurons, {windows} windows: {took:.1f} s (bare forward {bare:.1f} s, "
          f"ratio {took / bare:.2f}); {stored} of {len(NEURONS)} neurons; load {load:.2f}")  # fmt: skip
    assert stored == len(NEURONS), "every neuron gets related neurons"
    assert took < OLD_TIMEOUT_S, f"{took:.0f} s: past RQ's default 180 s job timeout"
