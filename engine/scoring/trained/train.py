"""Train the heads from scratch: build the synthetic neurons, cache MiniLM once, fit, choose on val.

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
from engine.scoring.trained.head import ORDINALS, Head
from engine.scoring.trained.inputs import Explanations, Records, explanation_input, pad, record_input
from engine.scoring.trained.simulator import TrainedSimulator

Progress = Callable[[str], None]
# Sentences of other neurons paired with a neuron's explanation: from any family, and from its
# own family (the hard contrast: "after 'of'" on sentences made for "after 'to'").
CROSS_PER_NEURON = 4
CROSS_SAME_FAMILY = 4
# Hard negatives: a neuron's own firing sentences paired with its siblings' explanations (the
# other senses of its word; the other rules about its trigger word: before/after "of").
SIBLING_SENTENCES = 4
# The sense margin: per step, this many sense neurons, each scored (differentiable Pearson, as
# the project scores) on its own and its other sense's sentences under its explanation and
# under the other sense's; the loss asks the true one to win by a margin.
KIN_GROUPS = 1
KIN_SENTENCES = 4
KIN_MARGIN = 0.3
KIN_WEIGHT = 1.0
SENSE_CHOICE_WEIGHT = 0.25
MEMBERS = 3


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
    kin_groups: int = KIN_GROUPS
    cache: Path | None = None  # keep the encoder's outputs here between runs (same seed and sizes)
    # Heads fitted on the same data from their own seeds; their predictions are averaged. One
    # head's test figures swung by 0.1-0.15 (lexical, positional) with float noise of 1e-6.
    members: int = MEMBERS


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


def _sense_groups(neurons: list[synth.NeuronData]) -> list[tuple[int, int]]:
    """(sense neuron, another sense of its word) pairs of training neurons with sentences."""
    by_word: dict[str, list[int]] = {}
    for k, n in enumerate(neurons):
        if n.neuron.family == "senses" and n.top:
            by_word.setdefault(_kin(n.neuron), []).append(k)
    return [(k, o) for members in by_word.values() for k in members for o in members if o != k]


def _pearson(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n = mask.sum()
    p = pred - (pred * mask).sum() / n
    t = target - (target * mask).sum() / n
    return (p * t * mask).sum() / ((p * p * mask).sum() * (t * t * mask).sum()).sqrt().clamp(min=1e-6)


def kin_loss(
    head: Head,
    enc: Encoded,
    data: synth.Dataset,
    neurons: list[synth.NeuronData],
    groups: list[tuple[int, int]],
    rng: random.Random,
) -> torch.Tensor | None:
    """Margin loss: the true sense's explanation must out-score the other sense's on its records."""
    terms = []
    for k, other in groups:
        mine, theirs = neurons[k], neurons[other]
        picks = [i for i, _ in mine.top[:KIN_SENTENCES]] + [i for i, _ in theirs.top[:KIN_SENTENCES]]
        acts = [mine.neuron.fire(data.sentences[i]) for i in picks]
        kept = [(i, a) for i, a in zip(picks, acts, strict=True) if a is not None and i in enc.features]
        if len(kept) < 2 or not any(v for _, a in kept for v in a):
            continue
        true_text = rng.choice(mine.neuron.explanations)
        other_text = theirs.neuron.explanations[0]
        rows = [(i, true_text) for i, _ in kept] + [(i, other_text) for i, _ in kept]
        logits, lengths = batch_logits(head, enc, data, rows)
        target, _ = pad([torch.tensor(a) for _, a in kept])
        n = len(kept)
        mask = (torch.arange(logits.shape[1])[None, :] < lengths[:n, None]).float()
        target = nn.functional.pad(target, (0, logits.shape[1] - target.shape[1]))
        pred = torch.sigmoid(logits)
        gap = _pearson(pred[:n], target, mask) - _pearson(pred[n:], target, mask)
        terms.append(nn.functional.relu(KIN_MARGIN - gap))
    return torch.stack(terms).mean() if terms else None


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


@dataclass
class Encoded:
    """The frozen encoder's outputs, computed once: sentences, phrasings, words alone."""

    features: dict[int, torch.Tensor]  # sentence index -> (tokens, DIM)
    expl: dict[str, torch.Tensor]  # phrasing -> (pieces, DIM)
    pieces: dict[str, list[str]]  # phrasing -> the word of each piece
    words: dict[str, torch.Tensor]  # word -> (HIDDEN,) alone


def batch_logits(
    head: Head, enc: Encoded, data: synth.Dataset, rows: list[tuple[int, str]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sentence, explanation) rows -> the head's logits (B, T) and the records' lengths."""
    items = []
    for i, _ in rows:
        words = data.sentences[i].words
        vectors = torch.stack([enc.words[w] for w in words]).float()
        items.append(record_input(words, data.sentences[i].tokens, enc.features[i], vectors))
    records = Records.of(items)
    explanations = Explanations.of([explanation_input(t, enc.expl[t], enc.pieces[t]) for _, t in rows])
    index = torch.arange(len(rows))
    return head.score(records, head.encode(records), explanations, index, index), records.lengths


def train(config: TrainConfig, out_path: Path | None, progress: Progress = print) -> dict[str, Any]:
    """Build the data and the encoder's outputs once, fit ``config.members`` heads on them (each
    from its own seed: initialisation, batch order, phrasings drawn), keep each member's best
    epoch on validation, and save them together: the simulator averages their predictions."""
    started = time.perf_counter()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    progress("building synthetic neurons")
    data = synth.build(config.seed, config.sizes)
    train_neurons = data.split("train")
    encoder = FeatureEncoder()
    pairs = _pairs(data, train_neurons, rng)
    enc = _encode(data, encoder, config, sorted({p[0] for p in pairs}), progress)
    progress(f"encoded ({time.perf_counter() - started:.0f} s)")
    val_cases = cases(data, "val", config.seed, config.val_per_family)
    members, history, losses = [], [], []
    for member in range(config.members):
        # Member 0 draws from the generator that built the pairs; the others from their own.
        member_rng = rng if member == 0 else random.Random(f"{config.seed}:member:{member}")
        torch.manual_seed(config.seed + 1000 * member)
        fit = _fit(config, data, encoder, enc, pairs, val_cases, member_rng, started, progress, member)
        members.append(fit)
        history.extend(fit["history"])
        losses.extend(fit["losses"])
    heads = []
    for fit in members:
        head = Head()
        head.load_state_dict(fit["state"])
        heads.append(head.eval())
    report = _validate(heads, encoder, data, enc, val_cases)
    progress(
        f"ensemble of {len(heads)}: val mean AUROC {report['mean_auroc']:.3f} {report['families']} "
        f"vs-other-sense {report['vs_other_sense']} ({time.perf_counter() - started:.0f} s)"
    )
    meta = {
        "seed": config.seed,
        "epochs": config.epochs,
        "members": len(members),
        "best_epochs": [fit["epoch"] for fit in members],
        "member_val": [
            {"mean_auroc": f["report"]["mean_auroc"], "vs_other_sense": f["report"]["vs_other_sense"]}
            for f in members
        ],
        "val_mean_auroc": report["mean_auroc"],
        "val_families": report["families"],
        "val_vs_other_sense": report["vs_other_sense"],
        "train_neurons": len(train_neurons),
        "pairs": len(pairs),
        "seconds": round(time.perf_counter() - started),
    }
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        states = [{k: v.half() for k, v in fit["state"].items()} for fit in members]
        torch.save({"config": {}, "states": states, "meta": meta}, out_path)
        progress(f"saved {out_path} ({len(states)} heads, val mean AUROC {meta['val_mean_auroc']:.3f})")
    return {"meta": meta, "history": history, "losses": losses}


def _fit(
    config: TrainConfig,
    data: synth.Dataset,
    encoder: FeatureEncoder,
    enc: Encoded,
    all_pairs: list[tuple[int, int, list[float]]],
    val_cases: list[Any],
    rng: random.Random,
    started: float,
    progress: Progress,
    member: int,
) -> dict[str, Any]:
    """One head: its epochs, each scored on validation; the best epoch's state is kept."""
    train_neurons = data.split("train")
    pairs = list(all_pairs)  # each member shuffles its own copy
    sense_groups = _sense_groups(train_neurons)
    head = Head()
    head.ordinals.copy_(ordinal_bank(encoder))
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=0.01)
    steps_per_epoch = (len(pairs) + config.batch - 1) // config.batch
    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.1)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(config.pos_weight), reduction="none")
    best: dict[str, Any] = {"score": -1.0}
    history, losses, step = [], [], 0
    for epoch in range(config.epochs):
        head.train()
        rng.shuffle(pairs)
        epoch_loss = 0.0
        for b in range(0, len(pairs), config.batch):
            batch = pairs[b : b + config.batch]
            texts = [rng.choice(train_neurons[k].neuron.explanations) for _, k, _ in batch]
            logits, lengths = batch_logits(
                head, enc, data, [(i, t) for (i, _, _), t in zip(batch, texts, strict=True)]
            )
            target, _ = pad([torch.tensor(a).unsqueeze(-1) for _, _, a in batch])
            mask = (torch.arange(target.shape[1])[None, :] < lengths[:, None]).float()
            loss = (loss_fn(logits, target.squeeze(-1)) * mask).sum() / mask.sum()
            if sense_groups and config.kin_groups:
                margin = kin_loss(
                    head, enc, data, train_neurons, rng.sample(sense_groups, config.kin_groups), rng
                )
                if margin is not None:
                    loss = loss + KIN_WEIGHT * margin
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
        report = _validate([head], encoder, data, enc, val_cases)
        history.append(
            {"member": member, "epoch": epoch + 1, "loss": round(epoch_loss / len(pairs), 4), **report}
        )
        progress(
            f"member {member + 1}/{config.members} epoch {epoch + 1}/{config.epochs}: "
            f"loss {epoch_loss / len(pairs):.4f}, "
            f"val mean AUROC {report['mean_auroc']:.3f} {report['families']} "
            f"vs-other-sense {report['vs_other_sense']} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        # Chosen on validation: the families' mean AUROC, and the sense goal beside it.
        chosen = report["mean_auroc"] + SENSE_CHOICE_WEIGHT * (report["vs_other_sense"] or 0.0)
        if chosen > best["score"]:
            best = {
                "score": chosen,
                "report": report,
                "epoch": epoch + 1,
                "state": {k: v.detach().clone() for k, v in head.state_dict().items()},
            }
        if config.max_steps and step >= config.max_steps:
            break
    return {**best, "history": history, "losses": losses}


def _encode(
    data: synth.Dataset, encoder: FeatureEncoder, config: TrainConfig, extra: list[int], progress: Progress
) -> Encoded:
    """The frozen encoder's outputs for every sentence in a record or a training pair, every
    phrasing, and every word of those sentences alone (once).

    With ``config.cache`` they are kept in that file, keyed by seed and sizes, for re-runs;
    only what the file lacks is encoded (and the file updated)."""
    key = repr((config.seed, config.sizes or synth.Sizes()))
    enc = Encoded({}, {}, {}, {})
    if config.cache and config.cache.is_file():
        saved = torch.load(config.cache, weights_only=True)
        if saved.get("key") == key:
            progress(f"encoder outputs from {config.cache}")
            enc = Encoded(saved["features"], saved["expl"], saved.get("pieces", {}), saved.get("words", {}))
    used = sorted(({i for n in data.neurons for i, _ in n.top + n.rest} | set(extra)) - set(enc.features))
    progress(
        f"{len(data.neurons)} neurons ({len(data.split('train'))} train); encoding {len(used)} sentences"
    )
    for start in range(0, len(used), 512):
        chunk = used[start : start + 512]
        for i, f in zip(chunk, encoder.records([data.sentences[i].tokens for i in chunk]), strict=True):
            enc.features[i] = f.half()
        progress(f"  encoded {min(start + 512, len(used))}/{len(used)} sentences")
    phrasings = sorted(
        {e for n in data.neurons for e in n.neuron.explanations + n.neuron.confusers} - set(enc.expl)
    )
    progress(f"encoding {len(phrasings)} explanation phrasings")
    enc.expl.update(zip(phrasings, (f.half() for f in encoder.explanations(phrasings)), strict=True))
    missing = sorted(set(enc.expl) - set(enc.pieces))
    enc.pieces.update(zip(missing, encoder.piece_words(missing), strict=True))
    words = sorted({w for i in enc.features for w in data.sentences[i].words} - set(enc.words))
    progress(f"encoding {len(words)} words alone")
    enc.words.update(zip(words, (v.half() for v in encoder.words(words)), strict=True))
    if config.cache and (used or phrasings or missing or words):
        torch.save(
            {
                "key": key,
                "features": enc.features,
                "expl": enc.expl,
                "pieces": enc.pieces,
                "words": enc.words,
            },
            config.cache,
        )
    return enc


def _validate(
    heads: list[Head],
    encoder: FeatureEncoder,
    data: synth.Dataset,
    enc: Encoded,
    val_cases: list[Any],
    embedding_share: float = 0.0,
) -> dict[str, Any]:
    # Training passes no share of embedding's prediction: epochs are chosen on what training
    # changes; the blend is chosen after, on the finished ensemble (simulator.EMBEDDING_SHARE).
    sim = TrainedSimulator(
        heads=heads,
        encoder=encoder,
        words={w: v.float() for w, v in enc.words.items()},
        embedding_share=embedding_share,
        fused_heads=False,
    )
    used = sorted({i for c in val_cases for i, _ in c.data.top + c.data.rest})
    sim.remember_records([data.sentences[i].tokens for i in used], [enc.features[i] for i in used])
    wanted = {x for c in val_cases for x in [c.true, *c.wrong, *c.confusers, c.canonical]}
    texts = [t for t in enc.expl if t in wanted]
    sim.remember_explanations(texts, [enc.expl[t] for t in texts], [enc.pieces[t] for t in texts])
    result = evaluate(sim, data, val_cases)
    return {
        "mean_auroc": result["mean_auroc"],
        "families": {f: v["auroc"] for f, v in result["families"].items()},
        "vs_other_sense": result["vs_other_sense"],
    }
