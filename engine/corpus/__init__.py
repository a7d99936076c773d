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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from engine.display_text import display_from_offsets

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


@dataclass
class CorpusWindows:
    """The corpus cut into windows: ``ids`` [n_windows, window] (int32), and with it, where the
    tokenizer gives offsets, ``display``: per window, each token's text as the corpus wrote it
    (the space before it, single; the writer's casing, hyphens and quotes), which the model's
    token strings cannot always say (WordPiece drops the spaces around "-" in "non-programmers")."""

    ids: torch.Tensor
    display: list[list[str]] | None = None


def make_windows(model: NeuronModel, corpus: str | Path | None, **options: Any) -> torch.Tensor:
    """The token windows alone, [n_windows, window] (int32): ``corpus_windows``' ids, with its
    options (``window``, ``max_tokens``, ``docs_per_batch``, ``family_friendly``), no display text."""
    return corpus_windows(model, corpus, **options, with_display=False).ids


_SPACES = re.compile(r"\s+")


def _document_display(text: str, offsets: list[tuple[int, int]], lead: str) -> list[str]:
    """Each token's text from the corpus, a run of white space before it read as one space
    (snippets flow as one paragraph); the document's first token starts with ``lead``."""
    pieces = display_from_offsets(text, offsets, [False] * len(offsets))
    return [_SPACES.sub(" ", (lead if i == 0 else "") + p) for i, p in enumerate(pieces)]


def corpus_windows(
    model: NeuronModel,
    corpus: str | Path | None,
    *,
    window: int = 64,
    max_tokens: int = 0,
    docs_per_batch: int = 512,
    family_friendly: bool = True,
    with_display: bool = True,
) -> CorpusWindows:
    """Token windows [n_windows, window] (int32) from the corpus, ``max_tokens`` > 0 capping the
    total; and their display text when ``with_display`` and the tokenizer gives offsets (a fast
    tokenizer; otherwise ``display`` is None and views derive it).

    ``family_friendly`` leaves out documents with a word of the maintained rude-word list
    (engine/corpus/clean.py), so no clue shown to players comes from them."""
    from engine.corpus.clean import family_friendly as clean_documents

    if window < 2 or window > model.max_content_tokens:
        raise CorpusError(f"window must be 2-{model.max_content_tokens} tokens for {model.name}")
    separator = model.encode("\n\n")
    # The blank line between documents: its tokens as the model's strings say ("\n\n" for
    # GPT-2); where it has none (WordPiece drops white space), the next document starts
    # with a space.
    separator_display = model.token_strings(separator) if separator else []
    lead = "" if separator else " "
    limit = max_tokens if max_tokens > 0 else None
    stream: list[int] = []
    shown: list[str] | None = [] if with_display else None
    seen = 0

    def encode(batch: list[str]) -> tuple[list[list[int]], list[list[str]] | None]:
        nonlocal shown
        if shown is None:
            return model.encode_many(batch), None
        try:
            enc = model.tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        except (NotImplementedError, ValueError, KeyError):  # a slow tokenizer: no offsets
            shown = None
            return model.encode_many(batch), None
        ids = [list(i) for i in enc["input_ids"]]
        texts = [
            _document_display(doc, [tuple(o) for o in offs], lead)
            for doc, offs in zip(batch, enc["offset_mapping"], strict=True)
        ]
        return ids, texts

    def take(batch: list[str]) -> bool:
        nonlocal seen
        ids_list, texts = encode(batch)
        for k, ids in enumerate(ids_list):
            stream.extend(ids)
            stream.extend(separator)
            if shown is not None and texts is not None:
                shown.extend(texts[k])
                shown.extend(separator_display)
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
    ids = torch.tensor(stream[: n_windows * window], dtype=torch.int32).view(n_windows, window)
    display = None
    if shown is not None and len(shown) == len(stream):
        display = [shown[w * window : (w + 1) * window] for w in range(n_windows)]
    return CorpusWindows(ids, display)
