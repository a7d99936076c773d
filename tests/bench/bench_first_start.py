"""The first start, timed end to end: a real `neuronquest up` on a fresh data dir, watched
through the HTTP API a browser uses, until every stage a new player meets is ready.

    flock /tmp/nq-heavy.lock .venv/bin/pytest -q -s tests/bench/bench_first_start.py -o addopts=""

Nothing is seeded or faked: `up` starts its private Redis, SQLite in the scratch data dir, the
web process, both workers and the scheduler; the background worker mines the default campaign
(MiniLM-L6 layer 3 from the bundled corpus), writes and scores the machine explanations, embeds
them and computes related neurons. Stages, each timed from the start of `up`:

* ``web``: /healthz answers 200;
* ``campaign``: /api/status says the default campaign is ready (the lobby's banner goes away);
* ``words``: search by words finds an explanation (the page's fallback while embeddings wait);
* ``meaning``: search by meaning (mode=semantic) finds one: embeddings are being written;
* ``related``: the first neuron's page has related neurons;
* ``machine``: the seeding is through: the last neuron's machine explanations are scored and
  no machine explanation waits for its score (a neuron is served only once its bar is known).
  A neuron whose top records are not active gets none (the job logs "not seeded"); the bench
  counts those and fails when they are more than MAX_UNSEEDED of the campaign.

Baseline in the same run: the bare forward pass of the related-neurons job's windows (as
tests/bench/bench_related_neurons.py), with the background worker's thread count, after `up`
stopped; the job's own time is read from the worker's log. FAILS when a stage is not reached
within its bound, when related neurons or scored machine explanations are missing for any
neuron, or on an ERROR / Traceback in the log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from config.settings import Settings
from server.cli.embedded_redis import free_port
from store.campaigns import get_campaign
from store.db import Database
from tests.bench.bench_related_neurons import _bare_forward
from tests.support.processes import REPO, nq_env
from workers import context
from workers.reference import RELATED_MAX_WINDOWS

# Seconds from the start of `up`: "within minutes of the first start" on this 2-core machine.
BOUNDS = {"web": 60, "campaign": 300, "words": 330, "meaning": 360, "related": 420, "machine": 840}
MAX_UNSEEDED = 0.02  # of the campaign's neurons: no active top records, so no machine explanation
POLL_S = 1.0
MEANING_EVERY_S = 5.0  # a semantic query costs 5 of the anonymous API's 60-token burst
RELATED_DONE = re.compile(
    r"completed workers\.reference\.related_neurons_job\(\d+\) job in (\d+):(\d+):([\d.]+)s"
)


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code != 429, f"the bench itself hit the API rate limit on {path}"
        return response.json() if response.status_code == 200 else None


def _neuron_ids(api: Api, campaign: str) -> list[int]:
    path = f"/api/v1/campaigns/{campaign}/neurons"
    pages = [api.get(path, limit=100)]
    while pages[-1].get("next_cursor"):
        pages.append(api.get(path, limit=100, cursor=pages[-1]["next_cursor"]))
    return [int(n["id"]) for page in pages for n in page["items"]]


def _machine(api: Api, campaign: str) -> tuple[set[int], int]:
    """(neuron ids with a scored machine explanation, machine explanations still unscored)."""
    scored: set[int] = set()
    unscored = 0
    cursor: str | None = None
    while True:
        more = {"cursor": cursor} if cursor else {}
        page = api.get(f"/api/v1/campaigns/{campaign}/explanations", limit=100, **more)
        for item in page["items"]:
            if item["source"] == "machine" and item["best_score"] is not None:
                scored.add(int(item["neuron_id"]))
            elif item["source"] == "machine":
                unscored += 1
        cursor = page.get("next_cursor")
        if not cursor:
            return scored, unscored


def _watch(
    api: Api, proc: subprocess.Popen[bytes], started: float, campaign: str, unseeded: list[int]
) -> dict[str, float]:
    reached: dict[str, float] = {}
    neuron_ids: list[int] = []
    last_meaning = 0.0
    printed: set[str] = set()
    while len(reached) < len(BOUNDS):
        now = time.monotonic() - started
        assert proc.poll() is None, f"`up` exited with {proc.returncode} after {now:.0f} s"
        late = [stage for stage, bound in BOUNDS.items() if stage not in reached and now > bound]
        assert not late, f"not ready within their bounds: {late} at {now:.0f} s (reached: {reached})"
        try:
            if "web" not in reached and api.http.get("/healthz").status_code == 200:
                reached["web"] = now
            if "web" in reached and "campaign" not in reached and api.get("/api/status")["ready"]:
                reached["campaign"] = now
                neuron_ids = _neuron_ids(api, campaign)
            if "campaign" in reached:
                if "words" not in reached and api.get("/api/v1/search", q="words")["items"]:
                    reached["words"] = now
                if "meaning" not in reached and now - last_meaning >= MEANING_EVERY_S:
                    last_meaning = now
                    if api.get("/api/v1/search", q="which words it fires on", mode="semantic")["items"]:
                        reached["meaning"] = now
                if "related" not in reached and api.get(f"/api/v1/neurons/{neuron_ids[0]}/related")["items"]:
                    reached["related"] = now
                if "machine" not in reached:
                    last = api.get(f"/api/v1/neurons/{neuron_ids[-1]}/explanations")
                    if any(x["source"] == "machine" and x["best_score"] for x in last["items"]):
                        scored, unscored = _machine(api, campaign)
                        if not unscored:
                            reached["machine"] = time.monotonic() - started
                            unseeded.extend(sorted(set(neuron_ids) - scored))
        except httpx.HTTPError:
            pass  # the web process is starting or restarting: the bounds still run
        for stage in [k for k in reached if k not in printed]:
            printed.add(stage)
            print(f"  {stage} ready at {reached[stage]:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        time.sleep(POLL_S)
    # Related neurons are stored for every neuron at once: a sample across the campaign.
    for nid in (neuron_ids[0], neuron_ids[len(neuron_ids) // 2], neuron_ids[-1]):
        assert api.get(f"/api/v1/neurons/{nid}/related")["items"], f"neuron {nid} has no related neurons"
    return reached


@pytest.mark.timeout(1200)  # the bounds above fail it first
def test_first_start_end_to_end(tmp_path: Path) -> None:
    data_dir, log, port = tmp_path / "data", tmp_path / "up.log", free_port()
    settings = Settings(data_dir=data_dir)
    unseeded: list[int] = []
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "up", "--port", str(port)],
        cwd=REPO,
        env=nq_env(data_dir=data_dir),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        reached = _watch(Api(f"http://127.0.0.1:{port}"), proc, started, settings.default_campaign, unseeded)
    finally:
        proc.send_signal(signal.SIGINT)  # `up` stops every child and its Redis
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log.read_text(errors="replace")
    bad = [
        line for line in text.splitlines() if " ERROR " in line or "Traceback" in line or "CRITICAL" in line
    ]
    assert not bad, f"errors in the log of `up` ({log}):\n" + "\n".join(bad[:20])
    skipped = text.count("not seeded: the neuron has no active records")
    assert len(unseeded) == skipped, f"{len(unseeded)} neurons without machine explanations; {skipped} logged"
    assert len(unseeded) <= MAX_UNSEEDED * settings.default_neurons, f"{len(unseeded)} neurons never playable"
    found = RELATED_DONE.search(text)
    assert found, "no completed related-neurons job in the worker's log"
    job_s = int(found.group(1)) * 3600 + int(found.group(2)) * 60 + float(found.group(3))

    # Baseline: the bare forward pass of the job's windows, as many threads as the job had.
    torch.set_num_threads(max(1, settings.background_threads))
    context.use_settings(settings)
    db = Database(settings)
    with db.session() as s:
        campaign = get_campaign(s, settings.default_campaign)
        assert campaign is not None
        campaign_id = int(campaign.id or 0)
    bare = _bare_forward(db, campaign_id, RELATED_MAX_WINDOWS)
    db.dispose()

    print("\nfirst start (s from `up`): " + ", ".join(f"{k} {v:.0f}" for k, v in reached.items()))
    print(f"neurons without a machine explanation (no active top records): {len(unseeded)} {unseeded}")
    print(f"related-neurons job {job_s:.1f} s; bare forward of its {RELATED_MAX_WINDOWS} windows "
          f"{bare:.1f} s ({settings.background_threads} thread); ratio {job_s / bare:.2f}")  # fmt: skip
