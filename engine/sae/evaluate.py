"""The training report: how well an SAE rebuilds its site, and what the model loses when it must
run on the rebuilt site instead of the real one.

- ``fvu``: fraction of variance unexplained on held-out tokens, Σ‖x - x̂‖² / Σ‖x - x̄‖²;
- ``l0``: latents active per held-out token (a TopK SAE: at most k);
- ``dead_fraction``: latents that fired on none of the last ``dead_window`` training tokens;
  ``heldout_dead_fraction``: latents that fired on no held-out token;
- the splice: the site replaced by the SAE's reconstruction and, as the floor, by zeros, on the
  window's own tokens (special tokens keep their real value: the SAE never saw them, and every
  token attends to them), for ``SPLICE_WINDOWS`` held-out windows.
  A causal LM (gpt2, llama) reports next-token cross-entropy clean / spliced / zero-ablated and
  the fraction of the ablation's loss the SAE recovers. BERT-style MiniLM has no LM head, so it
  reports instead the cosine between the final mean-pooled sentence embedding (its
  sentence-transformers pooling: mean over the window's tokens, specials included) clean vs
  spliced and clean vs zero-ablated, and the final hidden states' MSE relative to their variance,
  spliced and zero-ablated, with the fraction the SAE recovers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.models import NeuronModel, load_causal_lm
from engine.models.sites import hook_site
from engine.sae.model import SparseAutoencoder

if TYPE_CHECKING:
    from engine.sae.train import TrainConfig

SPLICE_WINDOWS = 128
BATCH_WINDOWS = 32


@torch.no_grad()
def reconstruction_report(sae: SparseAutoencoder, x: torch.Tensor, batch: int = 4096) -> dict[str, float]:
    """fvu, l0 and heldout_dead_fraction of ``sae`` on site vectors ``x`` [tokens, d_in]."""
    err = torch.zeros((), dtype=torch.float64)
    active = torch.zeros((), dtype=torch.float64)
    fired = torch.zeros(sae.d_sae, dtype=torch.bool)
    for start in range(0, x.shape[0], batch):
        rows = x[start : start + batch]
        z = sae.encode(rows)
        err += (sae.decode(z, like=rows) - rows).double().pow(2).sum()
        nonzero = z > 0
        active += nonzero.sum()
        fired |= nonzero.any(0)
    total = (x.double() - x.double().mean(0)).pow(2).sum()
    return {
        "fvu": float(err / total),
        "l0": float(active / x.shape[0]),
        "heldout_dead_fraction": float((~fired).float().mean()),
        "heldout_tokens": int(x.shape[0]),
    }


def evaluate_sae(
    model: NeuronModel,
    sae: SparseAutoencoder,
    heldout: torch.Tensor,
    heldout_windows: torch.Tensor,
    since_fire: torch.Tensor,
    config: TrainConfig,
    *,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    trained = config.tokens
    window = min(config.dead_tokens, trained)
    report: dict[str, Any] = reconstruction_report(sae, heldout)
    report["dead_fraction"] = float((since_fire >= window).float().mean())
    report["dead_window_tokens"] = window
    report["splice"] = splice_report(model, sae, heldout_windows[:SPLICE_WINDOWS], data_dir=data_dir)
    return report


def _inputs(model: NeuronModel, windows: torch.Tensor) -> tuple[torch.Tensor, int]:
    batch = windows.shape[0]
    parts = [windows.long()]
    if model.prefix_ids:
        parts.insert(0, torch.tensor(model.prefix_ids).expand(batch, -1))
    if model.suffix_ids:
        parts.append(torch.tensor(model.suffix_ids).expand(batch, -1))
    return torch.cat(parts, dim=1), len(model.prefix_ids)


@torch.no_grad()
def splice_report(
    model: NeuronModel, sae: SparseAutoencoder, windows: torch.Tensor, *, data_dir: Path | None = None
) -> dict[str, Any]:
    """The model's loss (or its substitute, for BERT) clean, with the site replaced by the SAE's
    reconstruction, and with the site zeroed."""
    layer, site = sae.hook.layer, sae.hook.site
    first, stop = len(model.prefix_ids), len(model.prefix_ids) + windows.shape[1]

    def content_only(fn: Any) -> Any:
        # Only the window's own tokens: the SAE never saw BOS/[CLS]/[SEP], which every token
        # attends to; the special tokens keep their real value, spliced and ablated alike.
        def apply(v: torch.Tensor) -> torch.Tensor:
            out = v.clone()
            out[:, first:stop] = fn(v[:, first:stop])
            return out

        return apply

    replace = {
        "clean": None,
        "spliced": content_only(lambda v: sae(v.float()).to(v.dtype)),
        "zero": content_only(torch.zeros_like),
    }
    if model.family == "bert":
        return _bert_splice(model, windows, layer, site, replace)
    lm, _tokenizer = load_causal_lm(model.name, device=str(model.device), data_dir=data_dir)
    ce: dict[str, float] = {}
    for name, fn in replace.items():
        total, count = 0.0, 0
        for start in range(0, windows.shape[0], BATCH_WINDOWS):
            ids, n_prefix = _inputs(model, windows[start : start + BATCH_WINDOWS])
            ids = ids.to(lm.device)
            labels = ids.clone()
            labels[:, :n_prefix] = -100
            handle = hook_site(lm.base_model, model.family, layer, site, fn) if fn else None
            try:
                logits = lm(input_ids=ids, use_cache=False).logits.float()
            finally:
                if handle:
                    handle.remove()
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), reduction="sum"
            )
            total += float(loss)
            count += int((labels[:, 1:] != -100).sum())
        ce[name] = total / count
    gap = ce["zero"] - ce["clean"]
    return {
        "measure": "next-token cross-entropy (nats/token)",
        "ce_clean": ce["clean"],
        "ce_spliced": ce["spliced"],
        "ce_zero_ablated": ce["zero"],
        "loss_recovered": (ce["zero"] - ce["spliced"]) / gap if gap > 0 else None,
        "windows": int(windows.shape[0]),
    }


def _bert_splice(
    model: NeuronModel, windows: torch.Tensor, layer: int, site: str, replace: dict[str, Any]
) -> dict[str, Any]:
    outs: dict[str, torch.Tensor] = {}
    for name, fn in replace.items():
        hidden: list[torch.Tensor] = []
        for start in range(0, windows.shape[0], BATCH_WINDOWS):
            ids, _ = _inputs(model, windows[start : start + BATCH_WINDOWS])
            ids = ids.to(model.device)
            handle = hook_site(model.model, model.family, layer, site, fn) if fn else None
            try:
                out = model.model(input_ids=ids, attention_mask=torch.ones_like(ids))
            finally:
                if handle:
                    handle.remove()
            hidden.append(out.last_hidden_state.float().cpu())
        outs[name] = torch.cat(hidden)
    clean = outs["clean"]
    variance = float((clean - clean.mean((0, 1))).pow(2).sum(-1).mean())
    pooled = {name: torch.nn.functional.normalize(h.mean(1), dim=-1) for name, h in outs.items()}

    def cos(name: str) -> float:
        return float((pooled["clean"] * pooled[name]).sum(-1).mean())

    def mse(name: str) -> float:
        return float((outs[name] - clean).pow(2).sum(-1).mean()) / variance

    return {
        "measure": "MiniLM has no LM head: final mean-pooled embedding cosine and final hidden-state MSE",
        "embedding_cosine_spliced": cos("spliced"),
        "embedding_cosine_zero_ablated": cos("zero"),
        "hidden_mse_spliced": mse("spliced"),
        "hidden_mse_zero_ablated": mse("zero"),
        "loss_recovered": 1 - mse("spliced") / mse("zero") if mse("zero") > 0 else None,
        "windows": int(windows.shape[0]),
    }
