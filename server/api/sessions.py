"""Sessions: signed tokens, guest names, account passwords.

A token is ``base64url(payload).base64url(hmac_sha256(secret, payload))`` with the payload
``{"p": player_id, "t": issued_at}``. It holds no secret and cannot be forged without the
server's key (Settings.effective_secret_key()). Guests get one at once; accounts get one at
login. Passwords are hashed with argon2id (argon2-cffi), never stored in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import time

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request

_hasher = PasswordHasher()

LOGIN_RE = re.compile(r"^[a-z0-9_.-]{3,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256

_ADJECTIVES = (
    "Curious", "Sleepy", "Bright", "Quiet", "Nimble", "Brave", "Clever", "Gentle", "Lucky", "Witty",
    "Sunny", "Mellow", "Swift", "Bold", "Calm", "Eager", "Jolly", "Keen", "Merry", "Proud",
)  # fmt: skip
_ANIMALS = (
    "Otter", "Heron", "Lynx", "Badger", "Falcon", "Gecko", "Koala", "Marten", "Newt", "Owl",
    "Panda", "Quokka", "Raven", "Stoat", "Tapir", "Vole", "Wombat", "Yak", "Zebu", "Ibis",
)  # fmt: skip


def guest_name(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_ANIMALS)} {rng.randint(10, 99)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), payload, hashlib.sha256).digest()


def make_token(secret: str, player_id: int, now: float | None = None) -> str:
    payload = orjson.dumps({"p": player_id, "t": int(now if now is not None else time.time())})
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def bearer_player(request: Request, secret: str) -> int | None:
    """The player an ``Authorization: Bearer <session token>`` header names, or None."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return None
    return read_token(secret, auth[7:].strip())


def read_token(secret: str, token: str) -> int | None:
    """The player id a token names, or None when it is malformed or not signed by us."""
    try:
        body, sig = token.split(".", 1)
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(sig), _sign(secret, payload)):
            return None
        player_id = orjson.loads(payload)["p"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    return player_id if isinstance(player_id, int) and not isinstance(player_id, bool) else None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
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
