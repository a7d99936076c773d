"""A tiny random causal LM built from a config and saved locally, for simulator tests.

Its predictions are noise, but it exercises the real path: a tokenizer, a saved
model directory loaded with ``from_pretrained``, batched forward passes, logits read
at every activation slot.
"""

from __future__ import annotations

from pathlib import Path

from engine.scoring.planted import SENTENCES
from engine.scoring.prompts import all_at_once


def build_tiny_lm(path: Path, *, ten_is_one_token: bool = True) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    corpus = [*SENTENCES, all_at_once("month names", ["a", "b"]).text]
    # "10" enters the vocabulary only when the training text has it often enough to merge.
    corpus += ["10 10 10 10 10 10"] * 50 if ten_is_one_token else []
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    fast.pad_token = fast.eos_token
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=1024,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def load_tiny_lm(path: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
