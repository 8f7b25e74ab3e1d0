"""every part of the training loss by name: epochs.loss_parts (JSON)

Revision ID: 0004
Revises: 0003

Plain ADD COLUMN (no table rebuild). Epochs recorded before it hold null: their parts are the
train_ce and train_distill columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("epochs", sa.Column("loss_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("epochs") as batch:
        batch.drop_column("loss_parts")
