"""run queue: suite, worker and cancel request on runs

Revision ID: 0002
Revises: 0001

Plain ADD COLUMN (no table rebuild), so SQLite keeps every row that references ``runs``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("suite", sa.String(length=120), nullable=True))
    op.add_column("runs", sa.Column("worker", sa.String(length=120), nullable=True))
    op.add_column(
        "runs", sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index("ix_runs_suite", "runs", ["suite"])


def downgrade() -> None:
    op.drop_index("ix_runs_suite", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("cancel_requested")
        batch.drop_column("worker")
        batch.drop_column("suite")
