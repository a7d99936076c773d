"""The SQL schema. Every table the game keeps durably, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Player(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    # Accounts have a unique login; guests have none.
    login: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    is_guest: bool = True
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Campaign(SQLModel, table=True):
    """A model + layer whose units (MLP neurons, or latents of a sparse autoencoder or
    transcoder attached to that layer) were mined from a corpus into puzzles.

    A unit is known everywhere as (model, layer, source, index): ``source`` is "neurons" for
    the layer's MLP neurons, else the SAE's name (stored under data_dir/saes/<source>/). The
    Neuron rows below are the campaign's units of either kind; their ids never repeat, so a
    latent and a neuron of the same index can never share a row, an explanation or a score.
    """

    __table_args__ = (Index("ix_campaign_model_layer_source", "model", "layer", "source"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    model: str = Field(max_length=128)
    layer: int
    unit: str = Field(default="neuron", max_length=16)  # neuron|latent (store/units.py)
    source: str = Field(default="neurons", max_length=128)
    # What the source is: "neurons", "sae" or "transcoder"; "" = what the unit implies
    # (neurons, or an SAE): read it with store/units.py source_kind_of.
    source_kind: str = Field(default="", max_length=16)
    corpus: str = Field(default="", max_length=512)
    window: int = 64
    neuron_start: int = 0
    neuron_end: int = 0  # exclusive
    tokens_seen: int = 0
    status: str = Field(default="building", max_length=16)  # building|ready|failed
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Neuron(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "index"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    index: int
    max_activation: float = 0.0
    mean_activation: float = 0.0
    frac_active: float = 0.0
    # {"edges": [...], "counts": [...]}
    histogram: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Set when new top activations arrive, so explanations get rescored.
    records_version: int = 1


class Snippet(SQLModel, table=True):
    """One activation record of a neuron: a window of tokens and its activations."""

    id: int | None = Field(default=None, primary_key=True)
    neuron_id: int = Field(foreign_key="neuron.id", index=True)
    kind: str = Field(max_length=8)  # "top" | "random"
    rank: int = 0
    tokens: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    activations: list[float] = Field(default_factory=list, sa_column=Column(JSON))
    max_activation: float = 0.0
    max_index: int = 0
    # Each token as the corpus wrote it (engine/corpus CorpusWindows), kept when mined; None for
    # records mined before it, whose display text is derived from the tokens when served.
    display: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Explanation(SQLModel, table=True):
    # One explanation per player per round, enforced here: a web process killed mid-submit
    # leaves the row but not the room's state, and the player's retry must not store a second.
    __table_args__ = (Index("ux_explanation_player_round", "player_id", "round_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    neuron_id: int = Field(foreign_key="neuron.id", index=True)
    player_id: int | None = Field(default=None, foreign_key="player.id", index=True)
    text: str = Field(max_length=512)
    room_id: str | None = Field(default=None, max_length=64)
    # The room round it was written in (rooms.puzzle_room.RoomState.round_key); None outside rounds.
    round_key: str | None = Field(default=None, max_length=128)
    source: str = Field(default="player", max_length=16)  # player|machine|import
    status: str = Field(default="visible", max_length=16)  # visible|pending|removed
    created_at: datetime = Field(default_factory=utcnow)


class Vote(SQLModel, table=True):
    # One vote per player per explanation, and one per player per round (a changed vote moves
    # the row), enforced here rather than in code.
    __table_args__ = (
        UniqueConstraint("explanation_id", "player_id"),
        Index("ux_vote_player_round", "player_id", "round_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    explanation_id: int = Field(foreign_key="explanation.id", index=True)
    player_id: int = Field(foreign_key="player.id", index=True)
    audience: bool = False
    # The room round of a player's vote (audience votes have none: they earn nothing).
    round_key: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class Score(SQLModel, table=True):
    """A simulator's verdict on an explanation; older versions are kept."""

    __table_args__ = (UniqueConstraint("explanation_id", "simulator", "version", "records_version"),)

    id: int | None = Field(default=None, primary_key=True)
    explanation_id: int = Field(foreign_key="explanation.id", index=True)
    simulator: str = Field(max_length=64)
    version: str = Field(max_length=64)
    records_version: int = 1
    score: float
    per_record: list[float] = Field(default_factory=list, sa_column=Column(JSON))
    # Detection metrics, worst-missed tokens and similar extras.
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)


class PointEvent(SQLModel, table=True):
    """Every point ever awarded; leaderboards are rebuilt from these."""

    __table_args__ = (Index("ux_pointevent_claim", "claim", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    player_id: int = Field(foreign_key="player.id", index=True)
    # 64-bit: a 'best'/'set' board takes one event's amount as the score, up to 2**53.
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(max_length=32)
    explanation_id: int | None = Field(default=None, foreign_key="explanation.id")
    neuron_id: int | None = Field(default=None, foreign_key="neuron.id")
    room_id: str | None = Field(default=None, max_length=64)
    quest_id: int | None = Field(default=None, foreign_key="quest.id")
    # What this award settles, unique: ``first_explanation:<neuron>``, ``beat_best:<explanation>``,
    # ``top_vote:<round>:<player>``, ``quest:<quest>:<player>:<neuron>:<from points>``. Whoever
    # settles first (the room at round end, the scoring worker for a late score) stores the row;
    # every other attempt inserts nothing (store/settlement.py). None: older rows, other awards.
    claim: str | None = Field(default=None, max_length=160)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class PlayedRound(SQLModel, table=True):
    """A room round whose points were settled: its rules' facts, for scores that come later.

    Stored (committed) by the room before it reads the round's scores, and read by the scoring
    worker after it stores a score: whichever comes second settles the late score's beat_best.
    """

    id: int | None = Field(default=None, primary_key=True)
    round_key: str = Field(max_length=128, unique=True)
    room_id: str = Field(max_length=64)
    round_no: int = 0
    neuron_id: int = Field(foreign_key="neuron.id")
    prior_best: float | None = None
    settled_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    invite_code: str = Field(max_length=16, unique=True)
    captain_id: int | None = Field(default=None, foreign_key="player.id")
    created_at: datetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    # A player belongs to at most one team at a time.
    __table_args__ = (UniqueConstraint("player_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    player_id: int = Field(foreign_key="player.id")
    joined_at: datetime = Field(default_factory=utcnow)


class Quest(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("kind", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # daily|weekly
    period: str = Field(max_length=16)  # 2026-11-21 | 2026-W47
    title: str = Field(default="", max_length=128)
    neuron_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    opens_at: datetime
    closes_at: datetime
    status: str = Field(default="open", max_length=16)  # open|closed


class QuestResult(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("quest_id", "player_id"),)

    id: int | None = Field(default=None, primary_key=True)
    quest_id: int = Field(foreign_key="quest.id", index=True)
    player_id: int = Field(foreign_key="player.id")
    score: float = 0.0
    rank: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    frozen_at: datetime = Field(default_factory=utcnow)


class Match(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    room_id: str = Field(max_length=64, index=True)
    kind: str = Field(default="team", max_length=16)
    status: str = Field(default="running", max_length=16)
    neuron_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class MatchResult(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("match_id", "team_id"),)

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="match.id", index=True)
    team_id: int = Field(foreign_key="team.id")
    score: float = 0.0
    rank: int = 0


class Achievement(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("player_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    player_id: int = Field(foreign_key="player.id", index=True)
    code: str = Field(max_length=32)
    granted_at: datetime = Field(default_factory=utcnow)


# The reference half's tables (API keys, embeddings, related neurons) live in their own module.
import store.reference_models  # noqa: E402, F401  (registers those tables on SQLModel.metadata)


class AuthSession(SQLModel, table=True):
    """One signed-in session (a token names it): it expires, and logout or register revokes it.

    The token itself is signed (server/api/sessions.py); this row is what lets the server take
    a token back before it expires."""

    sid: str = Field(primary_key=True, max_length=64)
    player_id: int = Field(foreign_key="player.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked: bool = False
