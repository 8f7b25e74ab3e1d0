"""metrics a user's own loop may not give become nullable

Revision ID: 0007
Revises: 0006

``centerlens.Recorder`` records runs of a user's own training loop, where logits (so test accuracy,
NLL, ECE, NC4 and per-class accuracy), the training loss and accuracy, the learning rate and the
throughput are optional. Their columns drop NOT NULL; every recorded row is kept. On SQLite this
rebuilds ``epochs`` and ``class_epochs`` (copy, drop, rename); ``store.engine.upgrade_database`` turns
foreign keys off while migrating, so the rebuild cascades into nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EPOCH_COLUMNS = (
    "test_top1",
    "test_top5",
    "test_nll",
    "test_ece",
    "nc4_agreement",
    "train_loss",
    "train_accuracy",
    "learning_rate",
    "images_per_second",
)


def _set_nullable(nullable: bool) -> None:
    with op.batch_alter_table("epochs") as batch:
        for name in EPOCH_COLUMNS:
            batch.alter_column(name, existing_type=sa.Float(), nullable=nullable)
    with op.batch_alter_table("class_epochs") as batch:
        batch.alter_column("test_accuracy", existing_type=sa.Float(), nullable=nullable)


def upgrade() -> None:
    _set_nullable(True)


def downgrade() -> None:
    _set_nullable(False)
