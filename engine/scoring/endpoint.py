"""One way to reach an OpenAI-compatible endpoint, shared by the simulator and the explainer."""

from __future__ import annotations

import openai


def openai_client(
    base_url: str, model: str, api_key: str, timeout: float, client: openai.OpenAI | None, what: str
) -> openai.OpenAI:
    """The client for ``base_url`` (or the one given); ValueError naming the missing settings."""
    if not base_url or not model:
        raise ValueError(f"the openai {what} needs NQ_OPENAI_BASE_URL and NQ_OPENAI_MODEL")
    return client or openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=2)
