"""rooms/ holds pure rules: no SQL, no Redis, no sockets, no storage, no clock read inside.

Two checks, because each misses what the other sees: importing every module in a fresh
interpreter catches an I/O library pulled in indirectly (through another package), and walking
each module's syntax tree catches an import or a clock read hidden in a function body or behind
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = sorted(p for p in (ROOT / "rooms").glob("*.py"))
FORBIDDEN = ("sqlalchemy", "sqlmodel", "redis", "starlette", "store")
CLOCKS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"),
          ("time", "monotonic"), ("time", "perf_counter"), ("time", "time_ns")}  # fmt: skip

_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
roots = sorted({m.split('.')[0] for m in sys.modules})
print(json.dumps(roots))
"""


def _forbidden(name: str) -> bool:
    return name.split(".")[0] in FORBIDDEN


def test_rooms_modules_import_no_io_library_even_indirectly() -> None:
    names = [f"rooms.{p.stem}" for p in ROOMS if p.stem != "__init__"]
    assert len(names) >= 10
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *names], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = [m for m in json.loads(out.stdout) if _forbidden(m)]
    assert loaded == [], f"importing rooms/ loads {loaded}"


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def _clock_reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (name, node.func.attr) in CLOCKS:
                found.append(f"{name}.{node.func.attr}() at line {node.lineno}")
    return found


def test_no_rooms_module_names_an_io_library_or_reads_a_clock() -> None:
    problems = []
    for path in ROOMS:
        tree = ast.parse(path.read_text(), filename=str(path))
        problems += [f"{path.name} imports {m}" for m in _imports(tree) if _forbidden(m)]
        problems += [f"{path.name} reads the clock: {c}" for c in _clock_reads(tree)]
    assert problems == []
