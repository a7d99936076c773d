"""Log-probabilities of many short continuations of many contexts, in one causal-LM pass.

Every context (a record's question) is followed by several candidate continuations
(the record's words). Each continuation must be read as if it came right after its
context, alone: so they are packed into one sequence with a custom attention mask —
a continuation sees the cached prompt, its own context and its own earlier tokens,
never another continuation — and position ids that restart every continuation where
its context ends. One forward pass then gives what one pass per continuation would,
at the cost of the tokens once. The prompt before the contexts is a KV cache computed
once and copied for each pass (copying costs far less than recomputing it).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

# A context's token ids and, for each continuation, its token ids.
Context = tuple[list[int], list[list[int]]]


@dataclass
class Packed:
    input_ids: torch.Tensor  # (1, width)
    position_ids: torch.Tensor  # (1, width)
    allowed: torch.Tensor  # (width, past + width) bool: which key each query may attend to
    # Per context, per continuation: (column of the token that predicts each id, the id).
    reads: list[list[list[tuple[int, int]]]]


def pack(contexts: Sequence[Context], past: int) -> Packed:
    width = sum(len(ids) + sum(len(c) for c in conts) for ids, conts in contexts)
    input_ids = torch.zeros(width, dtype=torch.long)
    positions = torch.zeros(width, dtype=torch.long)
    allowed = torch.zeros((width, past + width), dtype=torch.bool)
    allowed[:, :past] = True
    reads: list[list[list[tuple[int, int]]]] = []
    at = 0
    for ids, continuations in contexts:
        if not ids:
            raise ValueError("a context needs at least one token to predict its continuations from")
        start, n = at, len(ids)
        input_ids[start : start + n] = torch.tensor(ids)
        positions[start : start + n] = torch.arange(past, past + n)
        allowed[start : start + n, past + start : past + start + n] = torch.ones(n, n).tril().bool()
        at += n
        per_context = []
        for cont in continuations:
            m = len(cont)
            input_ids[at : at + m] = torch.tensor(cont)
            positions[at : at + m] = torch.arange(past + n, past + n + m)
            allowed[at : at + m, past + start : past + start + n] = True
            allowed[at : at + m, past + at : past + at + m] = torch.ones(m, m).tril().bool()
            # The context's last token predicts the first id, each id the next.
            predictors = [start + n - 1, *range(at, at + m - 1)]
            per_context.append(list(zip(predictors, cont, strict=True)))
            at += m
        reads.append(per_context)
    return Packed(input_ids[None], positions[None], allowed, reads)


@torch.inference_mode()
def extend_cache(model: Any, cache: Any, ids: list[int]) -> Any:
    """A new KV cache: ``cache`` (None: empty) followed by ``ids``; ``cache`` itself is untouched."""
    cache = copy.deepcopy(cache)
    if not ids:
        return cache
    past = cache.get_seq_length() if cache is not None else 0
    device = next(model.parameters()).device
    out = model(
        input_ids=torch.tensor([ids], device=device),
        attention_mask=torch.ones((1, past + len(ids)), dtype=torch.long, device=device),
        past_key_values=cache,
        use_cache=True,
    )
    return out.past_key_values


@torch.inference_mode()
def continuation_logprobs(model: Any, cache: Any, contexts: Sequence[Context]) -> list[list[float]]:
    """Per context, per continuation: log p(continuation | cached prompt + context), in nats."""
    if not contexts:
        return []
    past = cache.get_seq_length()
    packed = pack(contexts, past)
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    # Additive mask (0 where allowed): every attention implementation that takes a 4D mask reads it.
    mask = torch.zeros(packed.allowed.shape, dtype=dtype).masked_fill(~packed.allowed, torch.finfo(dtype).min)
    logits = model(
        input_ids=packed.input_ids.to(device),
        position_ids=packed.position_ids.to(device),
        attention_mask=mask[None, None].to(device),
        past_key_values=copy.deepcopy(cache),
        use_cache=True,
    ).logits[0]
    columns = sorted({col for per in packed.reads for cont in per for col, _ in cont})
    index = {col: i for i, col in enumerate(columns)}
    logprobs = torch.log_softmax(logits[columns].float(), dim=-1).cpu()
    return [
        [sum(float(logprobs[index[col], token]) for col, token in cont) for cont in per]
        for per in packed.reads
    ]
