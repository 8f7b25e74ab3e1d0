"""user metrics and study groups: epochs.extra (JSON) and runs.run_group

Revision ID: 0006
Revises: 0005

Plain ADD COLUMNs (no table rebuild). ``epochs.extra`` holds the scalars a user's own training loop
logs beside the declared metrics (``Recorder.log_epoch(..., extra={...})``); ``runs.run_group`` names
the group of a study's run: its config without the seed, so seeds of one setting are averaged
together. Rows recorded before it hold null.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("epochs", sa.Column("extra", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("run_group", sa.String(length=200), nullable=True))
    op.create_index("ix_runs_run_group", "runs", ["run_group"])


def downgrade() -> None:
    op.drop_index("ix_runs_run_group", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("run_group")
    with op.batch_alter_table("epochs") as batch:
        batch.drop_column("extra")
