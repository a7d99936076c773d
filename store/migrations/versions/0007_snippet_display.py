"""A record's display text, kept when it is mined: each token as the corpus wrote it.

Revision ID: 0007_snippet_display
Revises: 0006_source_kind
Create Date: 2026-11-29

WordPiece token strings cannot say whether "non - programmers" had spaces; the corpus's text
at the tokenizer's offsets can (engine/corpus CorpusWindows). Records mined before this keep
NULL and are shown as before, their display text derived from the tokens.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_snippet_display"
down_revision = "0006_source_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("snippet", sa.Column("display", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snippet") as batch:
        batch.drop_column("display")
