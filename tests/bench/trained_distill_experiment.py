"""Experiment (validation only, session 11): one head distilled from the shipped three-head ensemble.

    nice -n 10 env PYTHONPATH=$PWD .venv/bin/python -m tests.bench.trained_distill_experiment [EPOCHS]

The teachers are the shipped heads (not retrained here, to fit the session); the student is a
fresh Head fitted on the same training pairs as `neuronquest simulator train` builds, to the
teachers' averaged predicted activation (soft BCE), with the sense margin loss as the members
had. Each epoch is scored on validation with the blend shares; nothing touches the test split.
"""

import json
import random
import sys
import time
from pathlib import Path

import torch
from torch import nn

from engine.scoring.trained import dataset as synth
from engine.scoring.trained import train as T
from engine.scoring.trained.evaluate import cases
from engine.scoring.trained.features import FeatureEncoder
from engine.scoring.trained.head import Head
from engine.scoring.trained.simulator import load_head


def main() -> None:
    torch.set_num_threads(1)
    seed, epochs = 0, int(sys.argv[1]) if len(sys.argv) > 1 else 3
    started = time.perf_counter()
    config = T.TrainConfig(seed=seed, epochs=epochs, cache=Path("/tmp/nq-distill-encoded.pt"))
    random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    data = synth.build(seed)
    train_neurons = data.split("train")
    encoder = FeatureEncoder()
    pairs = T._pairs(data, train_neurons, rng)
    enc = T._encode(data, encoder, config, sorted({p[0] for p in pairs}), lambda m: print(m, flush=True))
    print(f"encoded {time.perf_counter() - started:.0f} s; {len(pairs)} pairs", flush=True)
    teachers, _, _ = load_head()
    val_all = cases(data, "val", seed, None)

    def val_report(heads, share):
        r = T._validate(heads, encoder, data, enc, val_all, embedding_share=share)
        rule = r["mean_auroc"] + 0.25 * (r["vs_other_sense"] or 0.0)
        return {
            "share": share,
            "rule": round(rule, 4),
            "mean": r["mean_auroc"],
            "vs_other": r["vs_other_sense"],
            "families": r["families"],
        }

    student_rng = random.Random(f"{seed}:student")
    torch.manual_seed(seed + 5000)
    head = Head()
    head.ordinals.copy_(T.ordinal_bank(encoder))
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=0.01)
    steps = (len(pairs) + config.batch - 1) // config.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=steps * epochs, pct_start=0.1
    )
    soft = nn.BCEWithLogitsLoss(reduction="none")
    sense_groups = T._sense_groups(train_neurons)
    work = list(pairs)
    for epoch in range(epochs):
        head.train()
        student_rng.shuffle(work)
        total = 0.0
        for b in range(0, len(work), config.batch):
            batch = work[b : b + config.batch]
            texts = [student_rng.choice(train_neurons[k].neuron.explanations) for _, k, _ in batch]
            rows = [(i, t) for (i, _, _), t in zip(batch, texts, strict=True)]
            with torch.no_grad():
                target = sum(torch.sigmoid(T.batch_logits(t, enc, data, rows)[0]) for t in teachers) / len(
                    teachers
                )
            logits, lengths = T.batch_logits(head, enc, data, rows)
            mask = (torch.arange(logits.shape[1])[None, :] < lengths[:, None]).float()
            loss = (soft(logits, target) * mask).sum() / mask.sum()
            margin = T.kin_loss(
                head, enc, data, train_neurons, student_rng.sample(sense_groups, 1), student_rng
            )
            if margin is not None:
                loss = loss + T.KIN_WEIGHT * margin
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(batch)
            if (b // config.batch) % 200 == 0:
                print(
                    f"epoch {epoch + 1} step {b // config.batch}/{steps} "
                    f"({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
        head.eval()
        torch.save(head.state_dict(), f"/tmp/nq-distill-student-e{epoch + 1}.pt")
        print(
            f"epoch {epoch + 1}: loss {total / len(work):.4f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        for share in (0.0, 0.1, 0.25):
            print(json.dumps({"epoch": epoch + 1, **val_report([head], share)}), flush=True)
    print(f"done {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
