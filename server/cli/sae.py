"""CLI: ``sae train`` (a TopK SAE on a layer's MLP neurons, resumable) and ``sae show`` (its report).

neuronquest sae train --model minilm-l6 --layer 3 [--expansion 4] [--k 32] [--tokens N | --minutes M]
                      [--out DIR] [--threads N] [--seed S]
neuronquest sae show DIR [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from config.settings import Settings
from server.cli.main import CliError


class _Bars:
    """One tqdm bar per phase: the site's activations cached (windows), then training (tokens)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.phase = ""

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if p.phase != self.phase:
            self.close()
            unit, desc = ("win", "activations") if p.phase == "activations" else ("tok", "training")
            self.bar = tqdm(total=p.total, initial=p.done, unit=unit, unit_scale=True, desc=desc)
            self.phase = p.phase
        if p.total != self.bar.total:  # a --minutes budget re-estimates the run's length
            self.bar.total = p.total
        self.bar.update(p.done - self.bar.n)
        if p.phase == "training":
            self.bar.set_postfix_str(f"fvu {p.fvu:.3f}, dead {100 * p.dead_fraction:.1f}%", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


RECIPE_OPTIONS = (
    "tokens",
    "minutes",
    "batch",
    "lr",
    "dead_tokens",
    "aux_coef",
    "reset_dead_moments",
    "decay_fraction",
    "lr_floor",
    "resample_tokens",
    "resample_until",
    "shifted_windows",
    "refit_tokens",
    "encoder_rank",
)


def cmd_sae_train(args: argparse.Namespace, settings: Settings) -> int:
    import torch

    from engine.corpus import CorpusError
    from engine.models import ModelError, load_model
    from engine.sae import SaeError
    from engine.sae.train import TrainConfig, TrainingPaused, default_out_dir, train_sae
    from engine.sae.train_config import DEFAULT_MINUTES

    if args.threads < 1:
        raise CliError("--threads must be at least 1")
    if args.tokens is not None and args.minutes is not None:
        raise CliError("give --tokens or --minutes, not both")
    torch.set_num_threads(args.threads)
    config = TrainConfig(
        model=args.model,
        layer=args.layer,
        expansion=args.expansion,
        k=args.k,
        seed=args.seed,
        corpus=args.corpus or "default",
        # The recipe's knobs: TrainConfig's defaults unless given.
        **{name: getattr(args, name) for name in RECIPE_OPTIONS if getattr(args, name) is not None},
        # Neither a token count nor a budget: the whole run in half a minute under 30.
        **({"minutes": DEFAULT_MINUTES} if args.tokens is None and args.minutes is None else {}),
    )
    out = Path(args.out).expanduser() if args.out else default_out_dir(settings.data_path, config)
    bars = _Bars(enabled=not args.quiet)
    started = time.monotonic()
    try:
        model = load_model(args.model, device="cpu", data_dir=settings.data_path)
        sae = train_sae(
            model,
            config,
            out,
            progress=bars,
            max_steps=args.max_steps,
            data_dir=settings.data_path,
            started=started,  # a --minutes budget counts the model's load
        )
    except (ModelError, SaeError, CorpusError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except TrainingPaused as exc:
        bars.close()
        print(f"{exc}: `neuronquest sae train` with the same options continues from {out}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        bars.close()
        print(f"\ninterrupted: run the same command again to resume from {out}", file=sys.stderr)
        return 130
    finally:
        bars.close()
    print(f"SAE saved in {out} ({time.monotonic() - started:,.0f} s this run)")
    _print_report(sae.meta)
    return 0


def _print_report(meta: dict[str, Any]) -> None:
    report = meta.get("report") or {}
    if not report:
        print("no training report in this SAE's cfg.json")
        return
    print(
        f"held-out FVU {report['fvu']:.3f}, L0 {report['l0']:.1f}, "
        f"dead {100 * report['dead_fraction']:.2f}% (no fire in the last {report['dead_window_tokens']:,} "
        f"training tokens), {100 * report['heldout_dead_fraction']:.2f}% silent on held-out"
    )
    splice = report.get("splice") or {}
    if "ce_clean" in splice:
        print(
            f"next-token CE: clean {splice['ce_clean']:.3f}, SAE spliced {splice['ce_spliced']:.3f}, "
            f"zero-ablated {splice['ce_zero_ablated']:.3f}"
        )
    elif splice:
        print(
            f"final embedding cosine to clean: spliced {splice['embedding_cosine_spliced']:.4f}, "
            f"zero-ablated {splice['embedding_cosine_zero_ablated']:.4f}; final hidden-state MSE "
            f"(/variance): spliced {splice['hidden_mse_spliced']:.4f}, "
            f"zero {splice['hidden_mse_zero_ablated']:.4f}"
        )
    if splice.get("loss_recovered") is not None:
        print(f"fraction of the ablation's damage the SAE recovers: {splice['loss_recovered']:.3f}")
    seconds, tokens = meta.get("train_seconds"), meta.get("train_tokens")
    if seconds is not None and tokens is not None:
        print(f"trained on {tokens:,} tokens in {seconds:,.0f} s")


def cmd_sae_show(args: argparse.Namespace, settings: Settings) -> int:
    from engine.sae import SaeError, load_sae

    try:
        sae = load_sae(args.directory)
    except SaeError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "hook_name": sae.hook.hook_name,
                    "d_in": sae.d_in,
                    "d_sae": sae.d_sae,
                    "k": sae.k,
                    "meta": sae.meta,
                    # A transcoder: what it writes (engine/sae/model.py); an SAE rebuilds its input.
                    "kind": sae.kind,
                    "hook_name_out": sae.hook_out.hook_name if sae.hook_out else None,
                    "d_out": sae.d_out,
                }
            )
        )
        return 0
    kind = f"TopK k={sae.k}" if sae.k is not None else "ReLU"
    if sae.hook_out is not None:
        skip = " + skip connection" if sae.W_skip is not None else ""
        print(
            f"{sae.meta.get('model_name')} transcoder {sae.hook.hook_name} -> {sae.hook_out.hook_name}: "
            f"{sae.d_in} -> {sae.d_sae} latents ({kind}) -> {sae.d_out}{skip}"
        )
        _print_report(sae.meta)
        return 0
    print(f"{sae.meta.get('model_name')} {sae.hook.hook_name}: {sae.d_in} -> {sae.d_sae} latents, {kind}")
    _print_report(sae.meta)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sae = subparsers.add_parser("sae", help="sparse autoencoders: train one on a layer, show its report")
    sub = sae.add_subparsers(dest="sae_command", required=True, metavar="ACTION")
    train = sub.add_parser("train", help="train a TopK SAE on a layer's MLP neurons (resumable)")
    train.add_argument("--model", required=True, help="minilm-l6, gpt2, smollm2-135m or a model directory")
    train.add_argument("--layer", type=int, required=True)
    train.add_argument("--expansion", type=int, default=4, help="latents per neuron (default 4)")
    train.add_argument("--k", type=int, default=32, help="active latents per token (default 32)")
    train.add_argument("--seed", type=int, default=0)
    # Defaults (None): TrainConfig's, so the recipe is written down once (engine/sae/train.py).
    train.add_argument(
        "--tokens", type=int, help="training tokens (epochs over the corpus) instead of a time budget"
    )
    train.add_argument(
        "--minutes",
        type=float,
        help="train as long as this many minutes of the whole run allow at its speed (default 29.5)",
    )
    train.add_argument("--batch", type=int, help="tokens per step")
    train.add_argument("--lr", type=float, help="Adam's learning rate")
    train.add_argument(
        "--dead-tokens", type=int, help="a latent silent this many tokens is dead and AuxK revives it"
    )
    train.add_argument("--aux-coef", type=float, help="AuxK loss weight")
    train.add_argument(
        "--reset-dead-moments",
        action=argparse.BooleanOptionalAction,
        help="zero a latent's Adam moments when it dies",
    )
    train.add_argument("--decay-fraction", type=float, help="share of the steps over which the lr decays")
    train.add_argument("--lr-floor", type=float, help="the lr at the end of the decay, as a share of --lr")
    train.add_argument(
        "--resample-tokens",
        type=int,
        help="every this many tokens, move dead latents to badly rebuilt tokens (0: never)",
    )
    train.add_argument("--resample-until", type=float, help="resample only before this share of the steps")
    train.add_argument(
        "--shifted-windows",
        action=argparse.BooleanOptionalAction,
        help="also train on the corpus cut half a window later (twice the contexts, none held out)",
    )
    train.add_argument(
        "--refit-tokens",
        type=int,
        help="after training, refit the decoder by least squares on this many training tokens (0: no refit)",
    )
    train.add_argument(
        "--encoder-rank",
        type=int,
        help="the encoder reads only this many top principal components of the input (0: all; cheaper step)",
    )
    train.add_argument("--corpus", help=".txt or .jsonl file (default: the shipped corpus)")
    train.add_argument("--out", help="directory (default: DATA/saes/MODEL-lL-topkK-xE)")
    train.add_argument("--threads", type=int, default=2, help="torch threads")
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (resumable)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_sae_train)
    show = sub.add_parser("show", help="an SAE directory's hook, size and training report")
    show.add_argument("directory")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_sae_show)
