"""Start real processes for tests and check that they leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from config.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (reads /proc; Linux only)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces; fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def nq_env(**settings: object) -> dict[str, str]:
    """The environment for a child `neuronquest` process with the given NQ_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NQ_")}
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in settings.items():
        env[f"NQ_{name.upper()}"] = str(value)
    return env


def settings_env(settings: Settings) -> dict[str, str]:
    """This environment without NQ_* variables, plus every field of ``settings`` not at its default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NQ_")}
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in settings.model_dump(exclude_defaults=True).items():
        env[f"NQ_{name.upper()}"] = str(value)
    return env


def start_role(role: str, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "server", role, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
    )


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s ({last})")


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
