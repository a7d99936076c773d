"""Explanation scoring: simulators behind one interface, the score, detection metrics.

``make_simulator`` builds the simulator Settings name; ``score_explanations`` turns
its predictions on top + random records into a ``ScoreResult``.
"""

from __future__ import annotations

from config.settings import Settings
from engine.scoring.score import ScoreResult, score_explanation, score_explanations, select_records
from engine.scoring.simulator import Simulator, SimulatorError

SIMULATORS = ("embedding", "trained", "llm", "llm-pointing", "openai")

__all__ = [
    "SIMULATORS",
    "ScoreResult",
    "Simulator",
    "SimulatorError",
    "make_simulator",
    "score_explanation",
    "score_explanations",
    "select_records",
]


def make_simulator(settings: Settings, name: str | None = None) -> Simulator:
    """The simulator called ``name`` (default: settings.simulator), its model loaded."""
    name = name or settings.simulator
    if name == "embedding":
        from engine.scoring.embedding import EmbeddingSimulator

        return EmbeddingSimulator(device="cpu" if settings.device == "auto" else settings.device)
    if name == "trained":
        from engine.scoring.trained.simulator import TrainedSimulator

        return TrainedSimulator(device="cpu" if settings.device == "auto" else settings.device)
    if name in ("llm", "llm-pointing"):
        from engine.scoring.llm import LocalLMSimulator
        from engine.scoring.llm_pointing import PointingLMSimulator

        kind = LocalLMSimulator if name == "llm" else PointingLMSimulator
        try:
            return kind.load(settings.simulator_model, device=settings.device, data_dir=settings.data_path)
        except (OSError, ValueError) as exc:
            raise SimulatorError(
                f"cannot load the simulator model {settings.simulator_model!r}: {exc}"
            ) from exc
    if name == "openai":
        from engine.scoring.openai_sim import OpenAISimulator

        return OpenAISimulator(
            settings.openai_base_url, settings.openai_model, api_key=settings.openai_api_key
        )
    raise SimulatorError(f"unknown simulator {name!r}; choose one of {', '.join(SIMULATORS)}")
