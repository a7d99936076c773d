"""What a training directory holds, and whether a run with these settings may use it.

``neuronquest sae train --out DIR`` finishes, resumes or starts the SAE there: a finished SAE
trained with the same settings is returned as saved, a checkpoint started with the same
settings (the token budget aside, ``RESCHEDULABLE``) is continued, and anything else is refused
with the settings that differ rather than overwritten. Settings are compared as
``dataclasses.asdict`` of engine/sae/train.py's TrainConfig.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.sae.data import CACHE_STATE
from engine.sae.model import SaeError, SparseAutoencoder
from engine.sae.saelens_format import CFG_FILENAME, load_sae

STATE_FILE = "train_state.pt"
CONFIG_FILE = "train_config.json"

# Settings added after SAEs were trained and saved, with the value that reproduces those SAEs:
# a directory written before the refit existed is read as trained with no refit, so that
# `--refit-tokens 0` finds (or resumes) it instead of refusing it as other settings.
SETTINGS_BEFORE_THEY_EXISTED: dict[str, Any] = {
    "refit_tokens": 0,
    "refit_ridge": 1e-2,
    "encoder_rank": 0,
    "minutes": 0.0,
}

# May differ on a rerun: the schedule is constant until its decay, so a run resumed with another
# token budget before either decay starts trains exactly as one started with it.
RESCHEDULABLE = {"tokens"}


def cached_fingerprint(out_dir: Path) -> str | None:
    """The fingerprint of the windows whose activations the directory caches, if any."""
    try:
        return str(json.loads((out_dir / CACHE_STATE).read_text())["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def finished_sae(out_dir: Path, wanted: dict[str, Any]) -> SparseAutoencoder | None:
    """The SAE already trained in ``out_dir`` with the settings ``wanted``; None when there is
    none yet. One trained with other settings is refused rather than overwritten."""
    if not (out_dir / CFG_FILENAME).is_file() or (out_dir / STATE_FILE).exists():
        return None
    sae = load_sae(out_dir)
    before = sae.meta.get("train_config")
    if not sae.meta.get("complete") or not isinstance(before, dict):
        raise SaeError(f"{out_dir} holds an SAE this command did not train: use another --out")
    before = _as_saved(before)
    if before != wanted:
        raise SaeError(_other_settings(out_dir, "an SAE trained", before, wanted))
    return sae


def claim(out_dir: Path, wanted: dict[str, Any]) -> None:
    """Refuse to continue a checkpoint that was started with other settings; then write these."""
    path = out_dir / CONFIG_FILE
    if path.is_file() and (out_dir / STATE_FILE).exists():
        before = _as_saved(json.loads(path.read_text()))
        fixed = {key for key in wanted if before.get(key) != wanted[key]} - RESCHEDULABLE
        if fixed:
            raise SaeError(_other_settings(out_dir, "a training started", before, wanted))
    path.write_text(json.dumps(wanted, indent=2) + "\n")


def _as_saved(before: dict[str, Any]) -> dict[str, Any]:
    return {**SETTINGS_BEFORE_THEY_EXISTED, **before}


def _other_settings(out_dir: Path, what: str, before: dict[str, Any], wanted: dict[str, Any]) -> str:
    changed = sorted(key for key in wanted if before.get(key) != wanted[key])
    return (
        f"{out_dir} holds {what} with other settings ({', '.join(changed)}): "
        "use another --out, or delete it to start over"
    )
