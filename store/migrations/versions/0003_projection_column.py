"""projections.method renamed projections.projection

Revision ID: 0003
Revises: 0002

The column names the projection (``pca``, ``umap``, ...), not a training method. PostgreSQL renames
it in place; SQLite rebuilds the table (``batch_alter_table``), copying every row, with foreign keys
off during upgrades (``store.engine.upgrade_database``), and keeps its index and unique key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    with op.batch_alter_table("projections") as batch:
        batch.alter_column(
            old, new_column_name=new, existing_type=sa.String(length=20), existing_nullable=False
        )


def upgrade() -> None:
    _rename("method", "projection")


def downgrade() -> None:
    _rename("projection", "method")
