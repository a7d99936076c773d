"""The signing key of an install without NQ_SECRET_KEY: made once, the same for every process."""

from __future__ import annotations

import multiprocessing as mp
import stat
from pathlib import Path

from config.settings import Settings


def _key_after(barrier, data_dir: str, out) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()  # every process looks for the file at once
    out.put(Settings(data_dir=Path(data_dir), secret_key="").effective_secret_key())


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    n = 6
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_key_after, args=(barrier, str(tmp_path), out)) for _ in range(n)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
    path = tmp_path / "secret_key"
    assert keys == {path.read_text().strip()} and len(keys.pop()) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no candidate left behind


def test_the_key_is_read_once_per_process(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="")
    key = settings.effective_secret_key()
    (tmp_path / "secret_key").write_text("changed under a running process")
    assert settings.effective_secret_key() == key
    assert Settings(data_dir=tmp_path, secret_key="set").effective_secret_key() == "set"
