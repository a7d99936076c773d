"""Train the head from scratch: build the synthetic neurons, cache MiniLM once, fit, choose on val.

Everything is seeded (data, initialisation, batch order); torch runs on the threads it is
given. The frozen encoder's outputs are computed once (the expensive part), so an epoch
only runs the small head. After every epoch the head is scored on the validation neurons
with the project's score; the best epoch is kept. The test split is not touched here.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.scoring.trained import dataset as synth
from engine.scoring.trained.evaluate import cases, evaluate
from engine.scoring.trained.features import FeatureEncoder
from engine.scoring.trained.head import ORDINALS, Head, pad
from engine.scoring.trained.simulator import TrainedSimulator
from engine.scoring.trained.structure import matches, record_form, terms

Progress = Callable[[str], None]
# Sentences of other neurons paired with a neuron's explanation: from any family, and from its
# own family (the hard contrast: "after 'of'" on sentences made for "after 'to'").
CROSS_PER_NEURON = 4
CROSS_SAME_FAMILY = 4
# Hard negatives: a neuron's own firing sentences paired with its siblings' explanations (the
# other senses of its word; the other rules about its trigger word: before/after "of").
SIBLING_SENTENCES = 4


@dataclass
class TrainConfig:
    seed: int = 0
    epochs: int = 3
    batch: int = 64
    lr: float = 2e-3
    pos_weight: float = 3.0
    sizes: synth.Sizes | None = None
    val_per_family: int | None = 20
    max_steps: int | None = None  # a smoke run stops early
    cache: Path | None = None  # keep the encoder's outputs here between runs (same seed and sizes)


def _pairs(
    data: synth.Dataset, neurons: list[synth.NeuronData], rng: random.Random
) -> list[tuple[int, int, list[float]]]:
    """(sentence, neuron, activations): each neuron's records, plus other neurons' sentences."""
    out = []
    tops = [i for n in neurons for i, _ in n.top]
    family_tops: dict[str, list[int]] = {}
    for n in neurons:
        family_tops.setdefault(n.neuron.family, []).extend(i for i, _ in n.top)
    for k, n in enumerate(neurons):
        for i, acts in n.top + n.rest:
            out.append((i, k, acts))
        same = family_tops[n.neuron.family]
        picks = rng.sample(tops, min(CROSS_PER_NEURON, len(tops)))
        for i in picks + rng.sample(same, min(CROSS_SAME_FAMILY, len(same))):
            acts = n.neuron.fire(data.sentences[i])
            if acts is not None:
                out.append((i, k, acts))
    groups: dict[str, list[int]] = {}
    for k, n in enumerate(neurons):
        groups.setdefault(_kin(n.neuron), []).append(k)
    for members in groups.values():
        for k in members:
            mine = [i for i, _ in neurons[k].top[:SIBLING_SENTENCES]]
            for other in members:
                if other == k:
                    continue
                for i in mine:
                    acts = neurons[other].neuron.fire(data.sentences[i])
                    if acts is not None:
                        out.append((i, other, acts))
    return out


def _kin(neuron: synth.SynthNeuron) -> str:
    """Neurons that are easy to confuse: the senses of one word, the rules about one cue."""
    if neuron.family == "senses":
        return "sense:" + neuron.name.split("-")[1]
    if neuron.cues is not None and neuron.family == "positional":
        return "cue:" + ",".join(sorted(neuron.cues))
    return "self:" + neuron.name


def ordinal_bank(encoder: FeatureEncoder) -> torch.Tensor:
    """(len(ORDINALS), DIM): each ordinal word's states, its word-pieces' mean ([CLS]/[SEP] left out)."""
    return torch.stack([f[1:-1].mean(0) for f in encoder.explanations(list(ORDINALS))])


def batch_inputs(
    head: Head,
    batch: list[tuple[list[str], torch.Tensor, torch.Tensor, str]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(tokens, features, explanation features, explanation) rows -> the head's score() inputs."""
    forms = [record_form(toks) for toks, _, _, _ in batch]
    x, lengths = pad([f.float() for _, f, _, _ in batch])
    form, _ = pad([f for f, _ in forms])
    opener, _ = pad([o for _, o in forms], value=-1)
    e, e_len = pad([e.float() for _, _, e, _ in batch])
    e_mask = torch.arange(e.shape[1])[None, :] < e_len[:, None]
    matched, _ = pad([matches([t.strip().lower() for t in toks], terms(text)) for toks, _, _, text in batch])
    return head.prepare(x, form, opener, lengths), lengths, e, e_mask, matched


def train(config: TrainConfig, out_path: Path | None, progress: Progress = print) -> dict[str, Any]:
    started = time.perf_counter()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    progress("building synthetic neurons")
    data = synth.build(config.seed, config.sizes)
    train_neurons = data.split("train")
    encoder = FeatureEncoder()
    features, expl = _encode(data, encoder, config, progress)
    progress(f"encoded ({time.perf_counter() - started:.0f} s)")
    pairs = _pairs(data, train_neurons, rng)
    pairs = [p for p in pairs if p[0] in features or _add(features, encoder, data, p[0])]
    head = Head()
    head.ordinals.copy_(ordinal_bank(encoder))
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=0.01)
    steps_per_epoch = (len(pairs) + config.batch - 1) // config.batch
    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.1)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(config.pos_weight), reduction="none")
    val_cases = cases(data, "val", config.seed, config.val_per_family)
    best: dict[str, Any] = {"score": -1.0}
    history, losses, step = [], [], 0
    for epoch in range(config.epochs):
        head.train()
        rng.shuffle(pairs)
        epoch_loss = 0.0
        for b in range(0, len(pairs), config.batch):
            batch = pairs[b : b + config.batch]
            texts = [rng.choice(train_neurons[k].neuron.explanations) for _, k, _ in batch]
            inputs = batch_inputs(
                head,
                [
                    (data.sentences[i].tokens, features[i], expl[t], t)
                    for (i, _, _), t in zip(batch, texts, strict=True)
                ],
            )
            lengths = inputs[1]
            target, _ = pad([torch.tensor(a).unsqueeze(-1) for _, _, a in batch])
            mask = (torch.arange(target.shape[1])[None, :] < lengths[:, None]).float()
            logits = head.score(*inputs)
            loss = (loss_fn(logits, target.squeeze(-1)) * mask).sum() / mask.sum()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            epoch_loss += float(loss.detach()) * len(batch)
            step += 1
            if config.max_steps and step >= config.max_steps:
                break
        head.eval()
        report = _validate(head, encoder, data, features, expl, val_cases)
        history.append({"epoch": epoch + 1, "loss": round(epoch_loss / len(pairs), 4), **report})
        progress(
            f"epoch {epoch + 1}/{config.epochs}: loss {epoch_loss / len(pairs):.4f}, "
            f"val mean AUROC {report['mean_auroc']:.3f} {report['families']} "
            f"vs-other-sense {report['vs_other_sense']} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        if report["mean_auroc"] > best["score"]:
            best = {
                "score": report["mean_auroc"],
                "epoch": epoch + 1,
                "state": {k: v.detach().clone() for k, v in head.state_dict().items()},
            }
        if config.max_steps and step >= config.max_steps:
            break
    meta = {
        "seed": config.seed,
        "epochs": config.epochs,
        "best_epoch": best["epoch"],
        "val_mean_auroc": best["score"],
        "train_neurons": len(train_neurons),
        "pairs": len(pairs),
        "seconds": round(time.perf_counter() - started),
    }
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.half() for k, v in best["state"].items()}
        torch.save({"config": {}, "state": state, "meta": meta}, out_path)
        progress(f"saved {out_path} (epoch {best['epoch']}, val mean AUROC {best['score']:.3f})")
    return {"meta": meta, "history": history, "losses": losses}


def _encode(
    data: synth.Dataset, encoder: FeatureEncoder, config: TrainConfig, progress: Progress
) -> tuple[dict[int, torch.Tensor], dict[str, torch.Tensor]]:
    """The frozen encoder's outputs for every sentence in a record and every phrasing (once).

    With ``config.cache`` they are kept in that file, keyed by seed and sizes, for re-runs;
    only what the file lacks is encoded (and the file updated)."""
    key = repr((config.seed, config.sizes or synth.Sizes()))
    features: dict[int, torch.Tensor] = {}
    expl: dict[str, torch.Tensor] = {}
    if config.cache and config.cache.is_file():
        saved = torch.load(config.cache, weights_only=True)
        if saved.get("key") == key:
            progress(f"encoder outputs from {config.cache}")
            features, expl = saved["features"], saved["expl"]
    used = sorted({i for n in data.neurons for i, _ in n.top + n.rest} - set(features))
    progress(
        f"{len(data.neurons)} neurons ({len(data.split('train'))} train); encoding {len(used)} sentences"
    )
    for start in range(0, len(used), 512):
        chunk = used[start : start + 512]
        for i, f in zip(chunk, encoder.records([data.sentences[i].tokens for i in chunk]), strict=True):
            features[i] = f.half()
        progress(f"  encoded {min(start + 512, len(used))}/{len(used)} sentences")
    phrasings = sorted(
        {e for n in data.neurons for e in n.neuron.explanations + n.neuron.confusers} - set(expl)
    )
    progress(f"encoding {len(phrasings)} explanation phrasings")
    expl.update(zip(phrasings, (f.half() for f in encoder.explanations(phrasings)), strict=True))
    if config.cache and (used or phrasings):
        torch.save({"key": key, "features": features, "expl": expl}, config.cache)
    return features, expl


def _add(features: dict[int, torch.Tensor], encoder: FeatureEncoder, data: synth.Dataset, i: int) -> bool:
    features[i] = encoder.records([data.sentences[i].tokens])[0].half()
    return True


def _validate(
    head: Head,
    encoder: FeatureEncoder,
    data: synth.Dataset,
    features: dict[int, torch.Tensor],
    expl: dict[str, torch.Tensor],
    val_cases: list[Any],
) -> dict[str, Any]:
    sim = TrainedSimulator(head=head, encoder=encoder)
    used = sorted({i for c in val_cases for i, _ in c.data.top + c.data.rest})
    sim.remember_records([data.sentences[i].tokens for i in used], [features[i] for i in used])
    texts = [t for t in expl if t in {x for c in val_cases for x in [c.true, *c.wrong, *c.confusers]}]
    sim.remember_explanations(texts, [expl[t] for t in texts])
    result = evaluate(sim, data, val_cases)
    return {
        "mean_auroc": result["mean_auroc"],
        "families": {f: v["auroc"] for f, v in result["families"].items()},
        "vs_other_sense": result["vs_other_sense"],
    }
