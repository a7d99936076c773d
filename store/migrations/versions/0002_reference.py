"""reference half: api keys, explanation embeddings, related neurons, imported votes, full-text search

Revision ID: 0002_reference
Revises: 0001

Full-text search over explanation.text:
- PostgreSQL: a GIN index on to_tsvector('english', text); store/search.py queries the same expression.
- SQLite: an FTS5 table with external content (the explanation table) kept in sync by triggers.
  Caution: a later batch migration that recreates the explanation table on SQLite drops these
  triggers; such a migration must recreate them (see _SQLITE_FTS below).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002_reference"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE explanation_fts USING fts5("
    "text, content='explanation', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER explanation_fts_ai AFTER INSERT ON explanation BEGIN "
    "INSERT INTO explanation_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER explanation_fts_ad AFTER DELETE ON explanation BEGIN "
    "INSERT INTO explanation_fts(explanation_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER explanation_fts_au AFTER UPDATE OF text ON explanation BEGIN "
    "INSERT INTO explanation_fts(explanation_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO explanation_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO explanation_fts(explanation_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.create_table(
        "apikey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rate_per_s", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_apikey_prefix", "apikey", ["prefix"], unique=False)

    op.create_table(
        "explanationembedding",
        sa.Column("explanation_id", sa.Integer(), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["explanation_id"], ["explanation.id"]),
        sa.PrimaryKeyConstraint("explanation_id"),
    )

    op.create_table(
        "relatedneuron",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neuron_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("correlation", sa.Float(), nullable=False),
        sa.Column("computed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["neuron_id"], ["neuron.id"]),
        sa.ForeignKeyConstraint(["other_id"], ["neuron.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("neuron_id", "other_id"),
    )
    op.create_index("ix_relatedneuron_neuron_id", "relatedneuron", ["neuron_id"], unique=False)

    op.create_table(
        "importedvotes",
        sa.Column("explanation_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("audience_votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["explanation_id"], ["explanation.id"]),
        sa.PrimaryKeyConstraint("explanation_id"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_explanation_text_fts ON explanation USING GIN (to_tsvector('english', text))")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_explanation_text_fts")
    else:
        for name in ("explanation_fts_ai", "explanation_fts_ad", "explanation_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS explanation_fts")
    op.drop_table("importedvotes")
    op.drop_index("ix_relatedneuron_neuron_id", table_name="relatedneuron")
    op.drop_table("relatedneuron")
    op.drop_table("explanationembedding")
    op.drop_index("ix_apikey_prefix", table_name="apikey")
    op.drop_table("apikey")
