"""SAE recipe experiments on a validation slice (docs/SAE.md, sessions 8 and 9).

    python -m tests.bench.sae_validation cache --out /tmp/sae-val [--data-dir DIR] [--threads 2]
    python -m tests.bench.sae_validation run --out /tmp/sae-val NAME [--threads 1] [key=value ...]

``cache`` fills an activation cache of MiniLM-L6 layer 3 (``mlp_post``) over the default corpus,
split as ``neuronquest sae train`` splits it (seed 0) but with 65,536 tokens held out: the first
32,768 are the command's own held-out tokens and are never evaluated here; the next 32,768 are
training tokens of the command, the **validation slice** that choices are made on; the rest
(575,936 tokens) is the training pool.

``run`` trains with ``TrainConfig``'s defaults changed by ``key=value`` (JSON values, e.g.
``tokens=500000 batch=2048``; the encoder's precision as the command chooses it on this CPU,
``low_precision=false`` forces float32), then prints and appends to
``OUT/results.jsonl`` the FVU, L0 and silent latents on the validation slice (and, with
``refit_tokens=N``, the same after the decoder refit). The running training FVU goes to
``OUT/runs/NAME/log.txt`` every 25 steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from engine.corpus import make_windows
from engine.mining import windows_fingerprint
from engine.models import load_model
from engine.sae.data import ActivationCache, Split, split_windows
from engine.sae.train import TrainConfig, TrainProgress, _Trainer

MODEL, LAYER, SITE, WIDTH = "minilm-l6", 3, "mlp_post", 1536
HELD, VALIDATION = 32_768, 32_768


def fill_cache(out: Path, data_dir: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(MODEL, device="cpu", data_dir=data_dir)
    split = split_windows(make_windows(model, "default", window=64), HELD + VALIDATION, 10**9, 0)
    fingerprint = f"{model.name}:{LAYER}:{SITE}:{windows_fingerprint(split.windows)}"
    cache = ActivationCache(out, split, WIDTH, fingerprint)
    began = time.monotonic()
    cache.fill(model, LAYER, SITE)
    torch.save({"windows": split.windows, "n_held": split.n_held, "fp": fingerprint}, out / "split.pt")
    print(f"{split.n_train_tokens} training tokens cached in {time.monotonic() - began:.0f} s")


def _open_cache(out: Path) -> ActivationCache:
    saved = torch.load(out / "split.pt")
    cache = ActivationCache(out, Split(saved["windows"], saved["n_held"]), WIDTH, saved["fp"])
    if not cache.complete:
        raise SystemExit(f"{out}: the cache is not complete; run `cache` first")
    return cache


@torch.no_grad()
def validation_report(trainer: _Trainer, x: torch.Tensor) -> tuple[float, float, float]:
    """FVU, L0 and the share of latents silent on ``x`` (raw activations) of the trainer's SAE."""
    x = x * trainer.scale
    p = {name: t.detach() for name, t in trainer.params.items()}
    b_eff = p["b_enc"] - p["b_dec"] @ p["W_enc"]
    err, active = 0.0, 0.0
    fired = torch.zeros(p["W_enc"].shape[1], dtype=torch.bool)
    for rows in x.split(4096):
        values, index = (rows @ p["W_enc"] + b_eff).topk(trainer.config.k, dim=-1)
        z = torch.zeros(rows.shape[0], p["W_enc"].shape[1]).scatter(-1, index, values.relu())
        fired |= (z > 0).any(0)
        active += float((z > 0).sum())
        err += float((z @ p["W_dec"] + p["b_dec"] - rows).double().pow(2).sum())
    total = float((x.double() - x.double().mean(0)).pow(2).sum())
    return err / total, active / x.shape[0], float((~fired).float().mean())


def run(out: Path, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    cache = _open_cache(out)
    # The encoder's precision as `neuronquest sae train` picks it here (train_config.fast_bfloat16), unless
    # changed: a choice made on validation then holds for the command's own arithmetic.
    config = TrainConfig(model=MODEL, layer=LAYER, **changes)
    run_dir = out / "runs" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = _Trainer(config, cache, WIDTH, run_dir / "state.pt")
    began = time.monotonic()
    with (run_dir / "log.txt").open("a") as log:

        def progress(p: TrainProgress) -> None:
            if (p.done // config.batch) % 25 == 0:
                line = f"{p.done} {p.fvu:.4f} {p.dead_fraction:.4f} {time.monotonic() - began:.0f}s"
                print(line, file=log, flush=True)

        trainer.run(progress, checkpoint_s=600.0, max_steps=None)
    trainer.to_full_encoder()  # an encoder_rank run's encoder as the SAE saves it
    validation = cache.heldout()[HELD:]
    result: dict[str, Any] = {"name": name, "changes": changes, "train_s": round(time.monotonic() - began, 1)}
    result["tokens"] = trainer.step * config.batch
    result["encoder_bfloat16"] = trainer.low_precision
    result["val_fvu"], result["val_l0"], result["val_silent"] = validation_report(trainer, validation)
    result["dead"] = float((trainer.since_fire >= config.dead_tokens).float().mean())
    if config.refit_tokens and "refit_tokens" in changes:
        result["refit"] = trainer.refit()
        result["val_fvu_refit"] = validation_report(trainer, validation)[0]
    with (out / "results.jsonl").open("a") as results:
        results.write(json.dumps(result) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["cache", "run"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("name", nargs="?", default="run")
    parser.add_argument("changes", nargs="*", help="TrainConfig field=JSON value")
    args = parser.parse_intermixed_args()
    torch.set_num_threads(args.threads or (2 if args.action == "cache" else 1))
    if args.action == "cache":
        fill_cache(args.out, args.data_dir)
        return
    changes = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.changes)}
    print(json.dumps(run(args.out, args.name, changes)))


if __name__ == "__main__":
    main()
