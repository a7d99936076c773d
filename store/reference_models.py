"""Tables of the reference half: API keys, explanation embeddings, related neurons, imported votes.

Imported by store/models.py so that one ``SQLModel.metadata`` holds every table; kept apart
because none of the game rules read them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

# The core tables first: the foreign keys below name them. (store/models.py imports this
# module at its end, so importing either one registers every table.)
import store.models  # noqa: F401
from store.models import utcnow


class ApiKey(SQLModel, table=True):
    """A key for heavy API use. Only the SHA-256 of the secret is kept; the secret is shown once."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    # The first characters of the key, so an operator can tell keys apart without the secret.
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    rate_per_s: float = 20.0
    burst: int = 200
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ExplanationEmbedding(SQLModel, table=True):
    """A unit-length sentence embedding of an explanation's text (float32 bytes)."""

    explanation_id: int = Field(foreign_key="explanation.id", primary_key=True)
    model: str = Field(max_length=64)
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RelatedNeuron(SQLModel, table=True):
    """The neurons whose activations correlate most with a neuron's over its campaign's windows."""

    __table_args__ = (UniqueConstraint("neuron_id", "other_id"),)

    id: int | None = Field(default=None, primary_key=True)
    neuron_id: int = Field(foreign_key="neuron.id", index=True)
    other_id: int = Field(foreign_key="neuron.id")
    rank: int
    correlation: float
    computed_at: datetime = Field(default_factory=utcnow)


class ImportedVotes(SQLModel, table=True):
    """Votes an explanation received on another instance: counted, but not tied to local players."""

    explanation_id: int = Field(foreign_key="explanation.id", primary_key=True)
    votes: int = 0
    audience_votes: int = 0
