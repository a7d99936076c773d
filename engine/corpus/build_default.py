"""Rebuild engine/corpus/default.txt.gz from Debian packages (see docs/CORPUS.md).

    apt-get download fortunes fortunes-min dict-devil
    for f in *.deb; do dpkg -x "$f" root; done
    python -m engine.corpus.build_default root

Output: one document per fortune / dictionary entry, documents separated by a blank line
(the .txt corpus format), inner blank lines removed so a document stays one paragraph.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from pathlib import Path

OUT = Path(__file__).parent / "default.txt.gz"
# Pictures, not prose.
SKIP_FORTUNE_FILES = {"ascii-art"}
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _paragraph(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def fortunes(root: Path) -> Iterator[str]:
    folder = root / "usr/share/games/fortunes"
    for path in sorted(folder.iterdir()):
        if path.suffix in {".dat", ".u8"} or path.is_symlink() or path.name in SKIP_FORTUNE_FILES:
            continue
        for chunk in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            doc = _paragraph(chunk.strip("%\n"))
            if len(doc) > 20:
                yield doc


def _b64_number(text: str) -> int:
    value = 0
    for ch in text:
        value = value * 64 + B64.index(ch)
    return value


def devils_dictionary(root: Path) -> Iterator[str]:
    folder = root / "usr/share/dictd"
    data = gzip.decompress((folder / "devil.dict.dz").read_bytes()).decode("utf-8", errors="replace")
    for line in (folder / "devil.index").read_text(encoding="utf-8").splitlines():
        head, offset, length = line.split("\t")[:3]
        if head.startswith("00-database"):
            continue
        start = _b64_number(offset)
        doc = _paragraph(data[start : start + _b64_number(length)])
        if doc:
            yield doc


def main(root: Path) -> None:
    docs = [*fortunes(root), *devils_dictionary(root)]
    text = "\n\n".join(docs) + "\n"
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        out.write(text)
    print(
        f"{len(docs)} documents, {len(text.encode()):,} bytes of text -> {OUT} ({OUT.stat().st_size:,} bytes)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
