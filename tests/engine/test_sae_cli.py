"""`neuronquest sae train|show`: a run into the data dir, its report, resuming, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.settings import Settings
from engine.sae import load_sae
from engine.sae.train import TrainConfig
from engine.sae.train_config import DEFAULT_MINUTES
from server.cli.main import main
from tests.model_fixtures import SENTENCES, tiny_gpt2_dir

__all__ = ["tiny_gpt2_dir"]  # fixture, imported for pytest


def test_train_pauses_resumes_and_shows_its_report(
    tiny_gpt2_dir: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sae", "train", "--model", str(tiny_gpt2_dir), "--layer", "2", "--expansion", "2", "--k", "4"]
    corpus = settings.data_path.parent / "small.txt"  # the bundled corpus takes minutes in its BPE
    corpus.write_text("\n\n".join(f"{s} ({i})" for i in range(1000) for s in SENTENCES))
    argv += ["--tokens", "8192", "--batch", "2048", "--threads", "1", "--quiet", "--corpus", str(corpus)]
    argv += [
        "--dead-tokens",
        "4096",
        "--reset-dead-moments",
        "--lr-floor",
        "0.3",
        "--resample-tokens",
        "2048",
        "--refit-tokens",
        "4096",
    ]
    assert main([*argv, "--max-steps", "2"], settings) == 3
    assert "stopped at step 2 of 4" in capsys.readouterr().err
    out_dir = settings.data_path / "saes" / f"{tiny_gpt2_dir.name}-l2-topk4-x2"
    assert (out_dir / "train_state.pt").exists()
    assert main(argv, settings) == 0
    printed = capsys.readouterr().out
    assert f"SAE saved in {out_dir}" in printed and "held-out FVU" in printed and "next-token CE" in printed
    sae = load_sae(out_dir)
    assert (sae.d_in, sae.d_sae, sae.k, sae.meta["train_tokens"]) == (128, 256, 4, 8192)
    # The recipe options given land in the config; the others keep TrainConfig's defaults.
    recipe, default = sae.meta["train_config"], TrainConfig(model="", layer=0)
    assert (recipe["dead_tokens"], recipe["reset_dead_moments"], recipe["lr_floor"]) == (4096, True, 0.3)
    assert recipe["resample_tokens"] == 2048 and "resampled_latents" in sae.meta
    assert recipe["refit_tokens"] == 4096 and sae.meta["refit"]["tokens"] == 4096
    assert (recipe["lr"], recipe["aux_coef"]) == (default.lr, default.aux_coef)
    assert main(["sae", "show", str(out_dir), "--json"], settings) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["hook_name"] == "blocks.2.mlp.hook_post" and shown["meta"]["report"]["l0"] <= 4


def test_errors_are_one_line_with_exit_code_2(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sae", "train", "--model", "no-such-model", "--layer", "1"], settings) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert main(["sae", "train", "--model", "minilm-l6", "--layer", "9", "--quiet"], settings) == 2
    assert "layer 9 out of range" in capsys.readouterr().err
    assert main(["sae", "show", str(tmp_path)], settings) == 2
    assert "no cfg.json" in capsys.readouterr().err
    both = ["sae", "train", "--model", "minilm-l6", "--layer", "3", "--tokens", "9", "--minutes", "2"]
    assert main(both, settings) == 2
    assert "give --tokens or --minutes, not both" in capsys.readouterr().err


def test_without_tokens_or_minutes_a_run_has_the_default_time_budget(
    tiny_gpt2_dir: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = settings.data_path.parent / "small.txt"
    corpus.write_text("\n\n".join(f"{s} ({i})" for i in range(1000) for s in SENTENCES))
    argv = ["sae", "train", "--model", str(tiny_gpt2_dir), "--layer", "2", "--k", "4", "--batch", "1024"]
    argv += ["--threads", "1", "--quiet", "--corpus", str(corpus), "--max-steps", "2"]
    assert main(argv, settings) == 3  # paused after 2 steps: the budget is not run out here
    out_dir = settings.data_path / "saes" / f"{tiny_gpt2_dir.name}-l2-topk4-x4"
    assert json.loads((out_dir / "train_config.json").read_text())["minutes"] == DEFAULT_MINUTES
