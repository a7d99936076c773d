"""What a latent campaign's source is: a sparse autoencoder or a transcoder (issue 20).

Revision ID: 0006_source_kind
Revises: 0005_units
Create Date: 2026-11-29

Campaigns built before this were of neurons or of an SAE (transcoders could not be loaded),
so the existing latent campaigns are marked "sae" and the neuron ones "neurons" ("" would
mean the same: store/units.py source_kind_of).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_source_kind"
down_revision = "0005_units"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("source_kind", sa.String(length=16), nullable=False, server_default=""))
    op.execute("UPDATE campaign SET source_kind = 'sae' WHERE unit = 'latent'")
    op.execute("UPDATE campaign SET source_kind = 'neurons' WHERE unit = 'neuron'")


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("source_kind")
