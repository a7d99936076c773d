"""A campaign's unit: MLP neurons or the latents of a sparse autoencoder / transcoder (issue 20).

Revision ID: 0005_units
Revises: 0004_i16edge
Create Date: 2026-11-29

Existing campaigns are neuron campaigns: the server defaults fill the new columns.
(model, layer, source) is indexed: the stable unit URL looks campaigns up by it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_units"
down_revision = "0004_i16edge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("unit", sa.String(length=16), nullable=False, server_default="neuron"))
        batch.add_column(sa.Column("source", sa.String(length=128), nullable=False, server_default="neurons"))
    op.create_index("ix_campaign_model_layer_source", "campaign", ["model", "layer", "source"])


def downgrade() -> None:
    op.drop_index("ix_campaign_model_layer_source", table_name="campaign")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("source")
        batch.drop_column("unit")
