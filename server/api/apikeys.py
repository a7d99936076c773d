"""API keys: ``nq_`` + 32 random bytes (base64url). Only the SHA-256 of a key is stored.

A fast hash is right here: keys are long random secrets, not passwords, so there is
nothing to guess, and every API request checks one.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, col, select

from store.reference_models import ApiKey

PREFIX = "nq_"
SHOWN_PREFIX = 10  # characters kept in clear to tell keys apart


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str, *, rate_per_s: float, burst: int) -> tuple[ApiKey, str]:
    """(the stored row, the secret); the secret is not kept and cannot be shown again."""
    if not name.strip() or len(name) > 64:
        raise ValueError("a key needs a name of 1 to 64 characters")
    if rate_per_s <= 0 or burst < 1:
        raise ValueError("rate must be > 0 and burst >= 1")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name.strip(),
        prefix=secret[:SHOWN_PREFIX],
        key_hash=hash_key(secret),
        rate_per_s=rate_per_s,
        burst=burst,
    )
    session.add(row)
    session.commit()
    return row, secret


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The live key with this secret, or None (unknown, malformed or revoked)."""
    if not secret.startswith(PREFIX) or len(secret) > 128:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(secret))).first()
    return row if row is not None and not row.revoked else None


def revoke_key(session: Session, prefix: str) -> int:
    rows = list(session.exec(select(ApiKey).where(ApiKey.prefix == prefix, col(ApiKey.revoked).is_(False))))
    for row in rows:
        row.revoked = True
        session.add(row)
    session.commit()
    return len(rows)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))))
