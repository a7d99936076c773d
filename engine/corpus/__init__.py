"""Corpora for mining: documents from the shipped default, a .txt or a .jsonl, cut into windows.

A .txt (optionally .gz) holds documents separated by blank lines; a .jsonl holds one
object per line with a "text" field. Documents are tokenized one by one, joined with
the model's tokens for a blank line, and the stream is cut into full windows of
``window`` tokens, so every batch is dense (no padding).
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from engine.models import NeuronModel

DEFAULT_CORPUS = Path(__file__).parent / "default.txt.gz"
DEFAULT_NAME = "default"


class CorpusError(ValueError):
    """A corpus that cannot be read; the message names the file and what is wrong."""


def resolve_corpus(corpus: str | Path | None) -> Path:
    if corpus in (None, "", DEFAULT_NAME):
        return DEFAULT_CORPUS
    path = Path(corpus).expanduser()
    if not path.is_file():
        raise CorpusError(f"corpus {corpus} not found (give a .txt or .jsonl file, or 'default')")
    kind = _kind(path)
    if kind is None:
        raise CorpusError(f"corpus {path.name}: unsupported type (use .txt, .jsonl, or either gzipped)")
    return path


def _kind(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".txt"):
        return "txt"
    if name.endswith(".jsonl"):
        return "jsonl"
    return None


def _open(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")  # type: ignore[return-value]


def _txt_documents(lines: Iterator[str]) -> Iterator[str]:
    paragraph: list[str] = []
    for line in lines:
        if line.strip():
            paragraph.append(line.rstrip("\n"))
        elif paragraph:
            yield "\n".join(paragraph)
            paragraph = []
    if paragraph:
        yield "\n".join(paragraph)


def _jsonl_documents(path: Path, lines: Iterator[str]) -> Iterator[str]:
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path.name} line {lineno}: not JSON ({exc.msg})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise CorpusError(f'{path.name} line {lineno}: expected an object with a "text" string')
        if obj["text"].strip():
            yield obj["text"]


def read_documents(corpus: str | Path | None) -> Iterator[str]:
    """The corpus' documents in order (a generator: the file is streamed)."""
    path = resolve_corpus(corpus)
    with _open(path) as fh:
        if _kind(path) == "jsonl":
            yield from _jsonl_documents(path, iter(fh))
        else:
            yield from _txt_documents(iter(fh))


def corpus_label(corpus: str | Path | None) -> str:
    path = resolve_corpus(corpus)
    return DEFAULT_NAME if path == DEFAULT_CORPUS else str(path.resolve())


def make_windows(
    model: NeuronModel,
    corpus: str | Path | None,
    *,
    window: int = 64,
    max_tokens: int = 0,
    docs_per_batch: int = 512,
    family_friendly: bool = True,
) -> torch.Tensor:
    """Token windows [n_windows, window] (int32) from the corpus; ``max_tokens`` > 0 caps the total.

    ``family_friendly`` leaves out documents with a word of the maintained rude-word list
    (engine/corpus/clean.py), so no clue shown to players comes from them."""
    from engine.corpus.clean import family_friendly as clean_documents

    if window < 2 or window > model.max_content_tokens:
        raise CorpusError(f"window must be 2-{model.max_content_tokens} tokens for {model.name}")
    separator = model.encode("\n\n")
    limit = max_tokens if max_tokens > 0 else None
    stream: list[int] = []
    seen = 0

    def take(batch: list[str]) -> bool:
        nonlocal seen
        for ids in model.encode_many(batch):
            stream.extend(ids)
            stream.extend(separator)
            seen += len(ids) + len(separator)
            if limit is not None and seen >= limit:
                return True
        return False

    batch: list[str] = []
    done = False
    documents = read_documents(corpus)
    for doc in clean_documents(documents) if family_friendly else documents:
        batch.append(doc)
        if len(batch) >= docs_per_batch:
            done = take(batch)
            batch = []
            if done:
                break
    if batch and not done:
        take(batch)
    usable = len(stream) if limit is None else min(len(stream), limit)
    n_windows = usable // window
    if n_windows == 0:
        raise CorpusError(f"corpus has {len(stream)} tokens: fewer than one {window}-token window")
    return torch.tensor(stream[: n_windows * window], dtype=torch.int32).view(n_windows, window)
