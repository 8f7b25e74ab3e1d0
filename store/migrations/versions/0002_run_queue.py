"""run queue: suite, worker and cancel request on runs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("suite", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(length=120), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.create_index("ix_runs_suite", ["suite"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_suite")
        batch.drop_column("cancel_requested")
        batch.drop_column("worker")
        batch.drop_column("suite")
