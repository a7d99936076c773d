"""Which unit explains better: the best machine explanation's score for N neurons and N latents
of the same layer, on the same corpus windows, with the same explainer and simulator.

    NQ_DATA_DIR=DIR .venv/bin/python -m tests.bench.bench_units_explained \\
        --sae /work/sae/minilm-l6-l3 [--units 256] [--max-tokens 200000] [--k 1] [--threads 1]
        [--explainer tokens] [--out FILE.json]

The windows are the default campaign's (MiniLM-L6, the bundled corpus, 64 tokens, the first
``--max-tokens`` tokens); both unit kinds are mined from them by the same Miner (20 top and
20 random records each): neurons 0..N-1 of the SAE's layer, and latents 0..N-1 of the SAE
(their order is the SAE's random initialisation: an unbiased pick). Each unit gets K
explanations from the explainer (Settings.explainer unless ``--explainer``), scored by the
configured simulator on 20 top + 20 random records, as the workers do; the best counts.
Control, in the same run: each unit's records against the previous unit's explanations.
A unit that never fired on these windows has no records to explain: it is counted, not
scored. The bench fails when a scoring raises or gives a score that is not a number.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from config.settings import get_settings
from engine.corpus import make_windows
from engine.mining import Miner, NeuronSummary
from engine.models import load_model
from engine.sae import load_sae
from engine.scoring import make_simulator, score_explanations, select_records
from engine.scoring.explainer import make_explainer
from engine.units import LatentModel
from tests.bench.bench_machine_explanations import histogram, quartiles

RECORDS_PER_KIND = 20  # as workers/scoring.py
WINDOW = 64  # as workers/mining.py


def _explain_all(
    summaries: list[NeuronSummary], explainer: Any, simulator: Any, k: int, max_chars: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    previous: list[str] = []
    for unit in summaries:
        if unit.max_activation <= 0:
            rows.append({"unit": unit.index, "silent": True})
            continue
        try:
            texts = explainer.explain(unit.top, k, max_chars=max_chars)
        except ValueError:  # the explainer finds nothing to explain (too weak to count as active)
            texts = []
        records = select_records(unit.top, unit.random, limit=RECORDS_PER_KIND)
        scores = [r.score for r in score_explanations(simulator, texts + previous, records)] if texts else []
        print(f"{unit.index:4d} {max(scores[: len(texts)], default=float('nan')):+.3f}", flush=True)
        rows.append(
            {
                "unit": unit.index,
                "max": unit.max_activation,
                "frac_active": unit.frac_active,
                "candidates": dict(zip(texts, scores[: len(texts)], strict=True)),
                "control": scores[len(texts) :],
            }
        )
        previous = texts
    return rows


def _summary(name: str, rows: list[dict[str, Any]]) -> list[float]:
    best = [max(r["candidates"].values()) for r in rows if r.get("candidates")]
    control = [s for r in rows for s in r.get("control", [])]
    silent = sum(1 for r in rows if r.get("silent"))
    unexplained = sum(1 for r in rows if not r.get("silent") and not r.get("candidates"))
    print(f"\n{name}: {len(rows)} units, {silent} never fired, {unexplained} without a usable candidate")
    print(f"best per unit: {quartiles(best)}  mean {statistics.fmean(best) if best else float('nan'):+.3f}")
    print(histogram(best))
    print(f"control: {quartiles(control)}")
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sae", required=True, help="an SAE directory in SAELens' format")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=200_000)
    parser.add_argument("--explainer", help="default: Settings.explainer")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", type=Path, help="write every candidate and score as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = get_settings()
    sae = load_sae(args.sae)
    model = load_model(str(sae.meta.get("model_name") or "minilm-l6"), device=settings.device)
    latents = LatentModel(model, sae, Path(args.sae).name)
    windows = make_windows(model, None, window=WINDOW, max_tokens=args.max_tokens)
    layer, units = sae.hook.layer, range(args.units)
    started = time.perf_counter()
    mined = {
        "neurons": Miner(model, windows, layer, units).run(),
        "latents": Miner(latents, windows, layer, units).run(),  # type: ignore[arg-type]
    }
    print(
        f"mined {args.units} neurons and {args.units} latents of layer {layer} on {windows.numel():,} tokens"
    )
    print(f"({time.perf_counter() - started:.0f} s)")
    explainer = make_explainer(settings, args.explainer)
    simulator = make_simulator(settings)
    print(f"explainer {explainer.version}, simulator {simulator.version}, k={args.k}")
    results: dict[str, list[dict[str, Any]]] = {}
    best: dict[str, list[float]] = {}
    for name, summaries in mined.items():
        began = time.perf_counter()
        results[name] = _explain_all(summaries, explainer, simulator, args.k, settings.max_explanation_chars)
        best[name] = _summary(name, results[name])
        print(f"({time.perf_counter() - began:.0f} s)")
        scores = [
            s for r in results[name] for s in [*r.get("candidates", {}).values(), *r.get("control", [])]
        ]
        assert all(math.isfinite(s) for s in scores), f"a {name} score is not a number"
    if best["neurons"] and best["latents"]:
        ratio = statistics.median(best["latents"]) / statistics.median(best["neurons"])
        above = sum(1 for s in best["latents"] if s > statistics.median(best["neurons"]))
        print(
            f"\nmedian best score: latents {statistics.median(best['latents']):+.3f}, "
            f"neurons {statistics.median(best['neurons']):+.3f} (ratio {ratio:.2f}); "
            f"{above} of {len(best['latents'])} latents beat the median neuron"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
