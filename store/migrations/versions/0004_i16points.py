"""Points you can trust: rounds in SQL, one submit and one vote per player and round, award claims.

Revision ID: 0004_i16points
Revises: 0003_point_amount_bigint

- explanation.round_key, vote.round_key: the room round a move was made in; a unique index on
  (player_id, round_key) makes a submit, and a vote, unique per player and round (NULLs, i.e.
  rows from before and rows made outside a round, never collide).
- pointevent.claim: what an award settles, unique (store/settlement.py). Existing
  first_explanation awards get their neuron's claim on the earliest row per neuron, so a neuron
  paid twice before this migration is never paid a third time; later duplicates keep no claim.
- playedround: a settled round's facts, for scores that arrive after it ended.

Only ADD COLUMN and CREATE INDEX on existing tables: SQLite keeps its explanation FTS triggers.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_i16points"
down_revision = "0003_point_amount_bigint"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("explanation", sa.Column("round_key", sa.String(length=128), nullable=True))
    op.create_index("ux_explanation_player_round", "explanation", ["player_id", "round_key"], unique=True)
    op.add_column("vote", sa.Column("round_key", sa.String(length=128), nullable=True))
    op.create_index("ux_vote_player_round", "vote", ["player_id", "round_key"], unique=True)
    op.add_column("pointevent", sa.Column("claim", sa.String(length=160), nullable=True))
    op.execute(
        "UPDATE pointevent SET claim = 'first_explanation:' || CAST(neuron_id AS VARCHAR(20)) "
        "WHERE id IN (SELECT MIN(id) FROM pointevent WHERE reason = 'first_explanation' "
        "AND neuron_id IS NOT NULL GROUP BY neuron_id)"
    )
    op.create_index("ux_pointevent_claim", "pointevent", ["claim"], unique=True)
    op.create_table(
        "playedround",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_key", sa.String(length=128), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("round_no", sa.Integer(), nullable=False),
        sa.Column("neuron_id", sa.Integer(), nullable=False),
        sa.Column("prior_best", sa.Float(), nullable=True),
        sa.Column("settled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["neuron_id"], ["neuron.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_key"),
    )


def downgrade() -> None:
    op.drop_table("playedround")
    op.drop_index("ux_pointevent_claim", table_name="pointevent")
    with op.batch_alter_table("pointevent") as batch_op:
        batch_op.drop_column("claim")
    op.drop_index("ux_vote_player_round", table_name="vote")
    with op.batch_alter_table("vote") as batch_op:
        batch_op.drop_column("round_key")
    op.drop_index("ux_explanation_player_round", table_name="explanation")
    with op.batch_alter_table("explanation") as batch_op:
        batch_op.drop_column("round_key")
