"""Point amounts as 64-bit integers.

Revision ID: 0003_point_amount_bigint
Revises: 0002_reference
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_point_amount_bigint"
down_revision = "0002_reference"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite's INTEGER is already 64-bit; only PostgreSQL needs the wider type.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("pointevent", "amount", type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("pointevent", "amount", type_=sa.Integer(), existing_type=sa.BigInteger())
