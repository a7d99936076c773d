"""Sessions: signed tokens, guest names, account passwords.

A token is ``base64url(payload).base64url(hmac_sha256(secret, payload))`` with the payload
``{"p": player_id, "s": session id, "x": expires_at}``. It holds no secret and cannot be forged
without the server's key (Settings.effective_secret_key()). Each token names a session record
(store/auth_sessions.py): it expires after Settings.session_ttl_s, a new one is opened at every
register and login (rotation), and logout or register revokes it, so a token stops working
before it expires when its owner says so. Guests get one at once; accounts get one at login.
Passwords are hashed with argon2id (argon2-cffi), never stored in clear.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import random
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session

from config.settings import Settings
from store.auth_sessions import Opened, is_active, open_session
from store.models import AuthSession

_hasher = PasswordHasher()

LOGIN_RE = re.compile(r"^[a-z0-9_.-]{3,32}$")
MAX_PASSWORD = 256

_ADJECTIVES = (
    "Curious", "Sleepy", "Bright", "Quiet", "Nimble", "Brave", "Clever", "Gentle", "Lucky", "Witty",
    "Sunny", "Mellow", "Swift", "Bold", "Calm", "Eager", "Jolly", "Keen", "Merry", "Proud",
)  # fmt: skip
_ANIMALS = (
    "Otter", "Heron", "Lynx", "Badger", "Falcon", "Gecko", "Koala", "Marten", "Newt", "Owl",
    "Panda", "Quokka", "Raven", "Stoat", "Tapir", "Vole", "Wombat", "Yak", "Zebu", "Ibis",
)  # fmt: skip


# One generator for every guest name: a new Random per guest seeded itself from os.urandom
# (a connect storm's profile showed the seeding, issue 19). Names need no secrecy.
_NAMES_RNG = random.Random()


def guest_name(rng: random.Random | None = None) -> str:
    rng = rng or _NAMES_RNG
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_ANIMALS)} {rng.randint(10, 99)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()


@dataclass(frozen=True)
class Claims:
    """What a well-signed, unexpired token says: whose it is and which session record."""

    player_id: int
    sid: str
    expires_at: int = 0  # seconds since the epoch


def make_token(secret: str, player_id: int, sid: str, expires_at: float) -> str:
    payload = orjson.dumps({"p": player_id, "s": sid, "x": int(expires_at)})
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def read_token(secret: str, token: str, now: float | None = None) -> Claims | None:
    """The claims of a token, or None when it is malformed, not signed by us or expired.

    A token that reads well may still be revoked: ``player_of_token`` also asks the database."""
    try:
        body, sig = token.split(".", 1)
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(sig), _sign(secret, payload)):
            return None
        data = orjson.loads(payload)
        player_id, sid, expires = data["p"], data["s"], data["x"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    if not isinstance(player_id, int) or isinstance(player_id, bool) or not isinstance(sid, str):
        return None
    if not isinstance(expires, int) or expires <= (now if now is not None else time.time()):
        return None
    return Claims(player_id, sid, expires)


def token_of(settings: Settings, record: AuthSession | Opened) -> str:
    """The signed token that names a session record."""
    expires = record.expires_at.replace(tzinfo=record.expires_at.tzinfo or UTC).timestamp()
    return make_token(settings.effective_secret_key(), record.player_id, record.sid, expires)


def issue_token(session: Session, settings: Settings, player_id: int) -> str:
    """A new session for the player (a fresh id: rotation) and its signed token."""
    return token_of(settings, open_session(session, player_id, settings.session_ttl_s))


def claims_of_token(session: Session, settings: Settings, token: str) -> Claims | None:
    """The claims of a token whose session is still open (signed, unexpired, not revoked)."""
    claims = read_token(settings.effective_secret_key(), token)
    if claims is None or not is_active(session, claims.sid, claims.player_id):
        return None
    return claims


def renewed_token(session: Session, settings: Settings, token: str, claims: Claims) -> str:
    """``token``, or a new one when less than half of its life is left: a player who keeps
    coming back keeps their identity (a guest has nothing else to prove it). The old token stays
    valid until it expires, so other tabs still holding it are not thrown out."""
    if claims.expires_at - time.time() > settings.session_ttl_s / 2:
        return token
    return issue_token(session, settings, claims.player_id)


def player_of_token(session: Session, settings: Settings, token: str) -> int | None:
    claims = claims_of_token(session, settings, token)
    return claims.player_id if claims else None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an unknown login (no hash) is checked against a dummy hash so
    that it takes as long as a known one and timing does not tell which logins exist."""
    if not password_hash:
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_dummy_hash(), password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def clean_name(name: str, max_chars: int) -> str | None:
    """A display name with whitespace collapsed; None when empty, too long or unprintable."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > max_chars or not cleaned.isprintable():
        return None
    return cleaned
