"""The password policy for accounts: long enough, no control characters, not the login or the
name, and not guessable, as judged by zxcvbn (Dropbox's estimator, the ``zxcvbn`` package: it
ships its frequency lists of common passwords, words and names and works offline).

A refusal names the problem and zxcvbn's suggestion, so the player can fix it at once.
"""

from __future__ import annotations

import threading
import unicodedata

from zxcvbn import zxcvbn

from config.settings import Settings

# zxcvbn keeps the user inputs of a call in a module-level dictionary: one call at a time.
_ZXCVBN_LOCK = threading.Lock()
# zxcvbn refuses longer input; a longer password is judged by its first 72 characters, which
# only makes the estimate lower (stricter), never higher.
_ZXCVBN_MAX = 72


def password_problem(password: str, login: str, name: str | None, settings: Settings) -> str | None:
    """Why ``password`` is refused, or None when it passes the policy."""
    if len(password) < settings.password_min_chars:
        return f"password: at least {settings.password_min_chars} characters"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in password):
        return "password: no control or invisible characters"
    lowered = password.casefold()
    if login.casefold() in lowered or (name and name.casefold() == lowered):
        return "password: must not contain your login or name"
    with _ZXCVBN_LOCK:
        verdict = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[login, name or ""])
    if verdict["score"] < settings.password_min_score:
        feedback = verdict.get("feedback") or {}
        hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
        return "password: too easy to guess" + (f" ({hint.strip().rstrip('.')})" if hint.strip() else "")
    return None
