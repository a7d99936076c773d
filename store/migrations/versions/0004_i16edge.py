"""Server-side session records: tokens that expire, rotate and can be revoked (issue 16).

Revision ID: 0004_i16edge
Revises: 0004_i19
Create Date: 2026-11-29
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_i16edge"
down_revision = "0004_i19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authsession",
        sa.Column("sid", sa.String(length=64), primary_key=True),
        sa.Column("player_id", sa.Integer(), sa.ForeignKey("player.id"), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_authsession_player_id", "authsession", ["player_id"])


def downgrade() -> None:
    op.drop_index("ix_authsession_player_id", table_name="authsession")
    op.drop_table("authsession")
