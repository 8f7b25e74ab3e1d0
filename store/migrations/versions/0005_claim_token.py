"""run claims: runs.claim_token, the token of the worker that holds the run

Revision ID: 0005
Revises: 0004

Plain ADD COLUMN (no table rebuild). A trainer's writes carry its claim's token, so a worker that
lost its run to a takeover can no longer write to it; runs recorded before it hold null.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("claim_token")
