"""Short room codes a streamer reads out: six letters nobody mistakes for another.

The alphabet drops vowels (so no code spells a word, rude or not) and the letters that look
like digits or each other on a stream (I, L, O, U, V, Y): 18 letters, 34,012,224 codes. Four
letters (104,976 codes) were walked in about ten minutes at 172 guesses a second; now wrong
codes are also limited per player and address (server/live/streamer.py, Settings.join_code_failures),
which at the default 60 an hour per address makes finding one of 100 open rooms take years.
Uniqueness among open rooms is the caller's job (a Redis SET NX on config.keys.room_code).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "BCDFGHJKMNPQRSTWXZ"
CODE_LENGTH = 6
CODE_RE = re.compile(rf"^[{ALPHABET}]{{{CODE_LENGTH}}}$")


def new_code() -> str:
    """A random code (from the OS random source, so codes cannot be predicted)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(text: str) -> str | None:
    """The code a person typed (any case, spaces or dashes), or None when it cannot be one."""
    code = re.sub(r"[\s-]", "", text).upper()
    return code if CODE_RE.match(code) else None
