"""Migration 0003 renames projections.method to projections.projection and keeps every row, its
values, the unique key, the index and the cascade from runs (SQLite rebuilds the table)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store import create_db_engine, upgrade_database
from store.engine import MIGRATIONS
from tests.store.test_migrations import counts, fill_initial_schema


def projection_column(engine, name: str) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text(f"SELECT {name} FROM projections ORDER BY id")).scalars())


def downgrade(engine, revision: str) -> None:
    """Alembic's downgrade with foreign keys off on SQLite, as upgrades run."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            config.attributes["connection"] = connection
            command.downgrade(config, revision)


def test_an_0002_database_keeps_its_projections_under_the_new_column_name(db_url: str) -> None:
    engine = create_db_engine(db_url)
    upgrade_database(engine, "0002")
    fill_initial_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO projections (id, run_id, epoch, method, frame, status,"
                                " created_at) VALUES (2, 1, 1, 'umap', 'run', 'failed', CURRENT_TIMESTAMP)"))
    before = counts(engine)
    upgrade_database(engine, "0003")
    assert counts(engine) == before
    columns = {column["name"] for column in inspect(engine).get_columns("projections")}
    assert "projection" in columns and "method" not in columns
    assert projection_column(engine, "projection") == ["pca", "umap"]
    assert "ix_projections_run_id" in {index["name"] for index in inspect(engine).get_indexes("projections")}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO projections (run_id, epoch, projection, frame, status,"
                                " created_at) VALUES (1, 1, 'pca', 'run', 'ok', CURRENT_TIMESTAMP)"))
    with engine.begin() as connection:  # a new connection: foreign keys on (store.engine)
        connection.execute(text("DELETE FROM runs WHERE id = 1"))
        assert connection.execute(text("SELECT count(*) FROM projections")).scalar() == 0, "cascade kept"
    engine.dispose()


def test_downgrading_restores_the_method_column(db_url: str) -> None:
    engine = create_db_engine(db_url)
    upgrade_database(engine, "0002")
    fill_initial_schema(engine)
    upgrade_database(engine, "0003")
    downgrade(engine, "0002")
    assert projection_column(engine, "method") == ["pca"]
    upgrade_database(engine)
    assert projection_column(engine, "projection") == ["pca"]
    engine.dispose()
