"""Indexes for the hot queries at scale (docs/SCALING.md, tests/bench/bench_database.py).

Revision ID: 0004_i19
Revises: 0004_i16points
Create Date: 2026-11-29

- explanation (player_id, neuron_id): a round's puzzle pick asks which neurons any of the
  room's members already explained (store/puzzles.py solved_neurons, up to 1,000 members):
  answered from the index alone instead of visiting every explanation row of each member.
- pointevent (player_id, amount): a player's total on every connect (store/players.py
  total_points) summed from the index alone.
"""

from alembic import op

revision = "0004_i19"
down_revision = "0004_i16points"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_explanation_player_neuron", "explanation", ["player_id", "neuron_id"])
    op.create_index("ix_pointevent_player_amount", "pointevent", ["player_id", "amount"])


def downgrade() -> None:
    op.drop_index("ix_pointevent_player_amount", table_name="pointevent")
    op.drop_index("ix_explanation_player_neuron", table_name="explanation")
