"""The family-friendly filter: a maintained word list from a package, masking or refusing.

The words come from ``better-profanity`` (its bundled list, with the leetspeak variants it
generates); nothing here is a hand-written list. A host picks the mode per room: ``off``,
``mask`` (rude words become ****) or ``reject`` (the text is refused with ``profanity``).
Checking a sentence costs tens of milliseconds, so the server calls this from a thread.
"""

from __future__ import annotations

import threading
from enum import StrEnum

from better_profanity import Profanity

from config.errors import ERR_PROFANITY
from rooms.puzzle_room import RoomError


class FilterMode(StrEnum):
    OFF = "off"
    MASK = "mask"
    REJECT = "reject"


_lock = threading.Lock()
_filter: Profanity | None = None


def _words() -> Profanity:
    """The package's filter, its word list loaded once per process."""
    global _filter
    with _lock:
        if _filter is None:
            loaded = Profanity()
            loaded.load_censor_words()
            _filter = loaded
        return _filter


def is_rude(text: str) -> bool:
    return bool(_words().contains_profanity(text))


def clean(text: str, mode: FilterMode, what: str = "text") -> str:
    """The text as the room may show it under ``mode``; raises RoomError when refused."""
    if mode is FilterMode.OFF:
        return text
    masked = _words().censor(text, "*")
    if masked == text:
        return text
    if mode is FilterMode.REJECT:
        raise RoomError(ERR_PROFANITY, f"this room is family friendly: the {what} has words it refuses")
    return masked
