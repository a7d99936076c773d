"""CLI: `activations`, `campaign build|list`, `models pull|list` — real neurons from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config.settings import Settings
from server.cli.main import CliError


def _parse_range(text: str) -> tuple[int, int]:
    """ "A-B" (inclusive) -> (A, B + 1); a single "N" -> (N, N + 1)."""
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            return int(a), int(b) + 1
        return int(text), int(text) + 1
    except ValueError:
        raise CliError(f"--neurons {text!r}: expected A-B, e.g. 0-255") from None


def cmd_activations(args: argparse.Namespace, settings: Settings) -> int:
    from engine.activations import check_text, text_activations
    from engine.models import ModelError
    from engine.units import NEURONS, install_sae, load_unit_model

    try:
        text = check_text(args.text, settings.max_text_chars)
        # --sae: the neuron number is a latent of that SAE (a stored name or a directory).
        source = install_sae(settings.data_path, args.sae) if args.sae else NEURONS
        model = load_unit_model(args.model, source, device=settings.device, data_dir=settings.data_path)
        answer = text_activations(model, args.layer, args.neuron, text)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(answer))
        return 0
    top = answer["max"] if answer["max"] > 0 else 1.0
    unit = f"{getattr(model, 'kind', 'SAE')} {source} feature" if args.sae else "neuron"  # or transcoder
    print(f"{model.name} layer {args.layer} {unit} {args.neuron}")
    for i, (tok, act) in enumerate(zip(answer["tokens"], answer["activations"], strict=True)):
        bar = "#" * max(0, min(20, round(20 * act / top)))
        mark = "  <- max" if i == answer["max_index"] else ""
        print(f"{tok!r:>18} {act:9.4f} {bar}{mark}")
    return 0


class _Bar:
    """tqdm progress bar in tokens (its rate and ETA are the tokens/s and ETA asked for)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=p.total, initial=p.tokens, unit="tok", unit_scale=True, desc="mining")
        self.bar.update(p.tokens - self.bar.n)
        self.bar.set_postfix_str(f"{p.tokens_per_s:,.0f} tok/s, ETA {p.eta_s:,.0f}s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _default_name(args: argparse.Namespace, settings: Settings) -> str:
    """MODEL-layerL for neurons, MODEL-layerL-SAE for an SAE's latents (its stored name)."""
    if args.sae is None:
        return f"{args.model}-layer{args.layer}"
    from engine.models import ModelError
    from engine.sae import SaeError, load_sae
    from engine.units import install_sae, sae_dir

    try:
        source = install_sae(settings.data_path, args.sae)
        layer = (
            args.layer if args.layer is not None else load_sae(sae_dir(settings.data_path, source)).hook.layer
        )
    except (ModelError, SaeError) as exc:
        raise CliError(str(exc)) from None
    return f"{args.model}-layer{layer}-{source}"


def cmd_campaign_build(args: argparse.Namespace, settings: Settings) -> int:
    from engine.corpus import CorpusError
    from engine.mining import MiningInterrupted
    from engine.models import ModelError
    from store.db import Database
    from workers.mining import build_campaign

    start, end = _parse_range(args.neurons) if args.neurons else (None, None)
    if args.layer is None and args.sae is None:
        raise CliError("--layer is needed (or --sae, whose layer it is)")
    name = args.name or _default_name(args, settings)
    db = Database(settings)
    bar = _Bar(enabled=not args.quiet)
    try:
        n = build_campaign(
            settings,
            db,
            name=name,
            model=args.model,
            layer=args.layer,
            neuron_start=start,
            neuron_end=end,
            corpus=args.corpus,
            max_tokens=args.max_tokens,
            on_progress=bar,
            batch_size=args.batch_size,
            sae=args.sae,
        )
    except (ModelError, CorpusError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except (KeyboardInterrupt, MiningInterrupted):
        bar.close()
        print(f"\ninterrupted: run the same command again to resume campaign {name}", file=sys.stderr)
        return 130
    finally:
        bar.close()
        db.dispose()
    print(f"campaign {name}: {n} {'features' if args.sae else 'neurons'} mined")
    return 0


def cmd_campaign_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.campaigns import list_campaigns
    from store.db import Database

    db = Database(settings)
    try:
        with db.session() as session:
            campaigns = list_campaigns(session)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps([c.to_json() for c in campaigns]))
        return 0
    if not campaigns:
        print("no campaigns yet: neuronquest campaign build --model minilm-l6 --layer 3")
        return 0
    print(f"{'name':<28} {'model':<16} {'layer':>5} {'source':<20} {'units':>8} {'tokens':>10}  status")
    for c in campaigns:
        print(
            f"{c.name:<28} {c.model:<16} {c.layer:>5} {c.source:<20} {c.neurons_mined:>8} "
            f"{c.tokens_seen:>10}  {c.status}"
        )
    return 0


def cmd_models_pull(args: argparse.Namespace, settings: Settings) -> int:
    from engine.models.pull import GPT2_HUB_IDS, pull_gpt2, pull_smollm2
    from engine.models.registry import SMOLLM2, ModelError

    if args.name != SMOLLM2 and args.name not in GPT2_HUB_IDS:
        raise CliError(f"can pull {SMOLLM2} or {', '.join(GPT2_HUB_IDS)}, not {args.name!r}")
    try:
        if args.name == SMOLLM2:
            path = pull_smollm2(settings.data_path, force=args.force)
        else:
            path = pull_gpt2(args.name, settings.data_path, force=args.force)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    print(f"{args.name} ready in {path}")
    return 0


def cmd_models_list(args: argparse.Namespace, settings: Settings) -> int:
    from engine.models.registry import KNOWN_NAMES, ModelError, resolve

    for name in KNOWN_NAMES:
        try:
            where = str(resolve(name, settings.data_path, pull=False).path)
        except ModelError as exc:
            where = f"not available: {exc}"
        print(f"{name:<14} {where}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    act = subparsers.add_parser("activations", help="a neuron's activation on each token of a text")
    act.add_argument("--model", required=True, help="gpt2, smollm2-135m, minilm-l6 or a model directory")
    act.add_argument("--layer", type=int, required=True)
    act.add_argument("--neuron", type=int, required=True, help="the neuron, or with --sae the latent")
    act.add_argument("--sae", help="a latent of this SAE (stored name or SAELens directory) instead")
    act.add_argument("--text", required=True)
    act.add_argument("--json", action="store_true", help="print one JSON object")
    act.set_defaults(func=cmd_activations)

    camp = subparsers.add_parser("campaign", help="mine and list campaigns")
    camp_sub = camp.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    build = camp_sub.add_parser(
        "build",
        aliases=["create"],
        help="mine a layer's neurons (or an SAE's latents, --sae) from a corpus into the database",
    )
    build.add_argument("--model", required=True)
    build.add_argument("--layer", type=int, help="the layer (with --sae: the SAE's, which is the default)")
    build.add_argument(
        "--sae",
        help="puzzles are this SAE's latents: a name under DATA/saes/ or an SAE directory (SAELens "
        "format, copied to DATA/saes/<its name>/)",
    )
    build.add_argument("--neurons", help="range A-B (inclusive); default: every unit of the layer or SAE")
    build.add_argument("--corpus", help=".txt or .jsonl file (default: the shipped corpus)")
    build.add_argument("--max-tokens", type=int, default=0, help="tokens to mine (0 = the whole corpus)")
    build.add_argument("--name", help="campaign name (default: MODEL-layerL)")
    build.add_argument("--batch-size", type=int, default=None, help="windows per forward pass")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=cmd_campaign_build)
    lst = camp_sub.add_parser("list", help="campaigns: name, model, layer, neurons mined")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_campaign_list)

    models = subparsers.add_parser("models", help="fetch and list models")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download and convert a model once (smollm2-135m)")
    pull.add_argument("name")
    pull.add_argument("--force", action="store_true", help="download and convert again")
    pull.set_defaults(func=cmd_models_pull)
    mlist = models_sub.add_parser("list", help="known model names and where their weights are")
    mlist.set_defaults(func=cmd_models_list)
