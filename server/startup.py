"""What `neuronquest up` does once every role is running."""

from __future__ import annotations

from config.settings import Settings


def after_start(settings: Settings) -> None:
    """Make sure there is something to play: mine the default campaign on a fresh data dir.

    Filled in once mining lands (issue 3); until then a fresh data dir has no puzzles.
    """
