"""Migration 0007 makes the metrics a user's own loop may not give nullable, keeping every row, its
values, the unique key, the index and the cascades from runs (SQLite rebuilds epochs and class_epochs)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from store import create_db_engine, upgrade_database
from tests.store.test_migrations import counts, fill_initial_schema

OPTIONAL = {"test_top1", "test_top5", "test_nll", "test_ece", "nc4_agreement", "train_loss",
            "train_accuracy", "learning_rate", "images_per_second"}
GEOMETRY = ("within_class_variance", "between_class_variance", "variance_ratio", "nc1", "cdnv",
            "nc2_equinorm", "nc2_equiangular", "nc2_max_angle")
EPOCH_WITHOUT_LOGITS = (  # epoch 2 of run 1 with only what a features-only Recorder epoch holds; the id
    # is explicit because the filled rows were inserted with theirs (PostgreSQL's sequence is still at 1)
    f"INSERT INTO epochs (id, run_id, epoch, {', '.join(GEOMETRY)}, epoch_seconds, recorded_at)"
    f" VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM epochs), 1, 2, {', '.join(['0.5'] * len(GEOMETRY))},"
    " 1.0, CURRENT_TIMESTAMP)"
)


def rows(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
                for table in ("epochs", "class_epochs")}


def nullable(engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table) if column["nullable"]}


def test_an_0006_database_keeps_every_row_and_takes_epochs_without_logits(db_url: str) -> None:
    engine = create_db_engine(db_url)
    upgrade_database(engine, "0001")
    fill_initial_schema(engine)
    upgrade_database(engine, "0006")
    before, values = counts(engine), rows(engine)
    assert not OPTIONAL & nullable(engine, "epochs")

    upgrade_database(engine, "0007")
    assert counts(engine) == before
    assert rows(engine) == values
    assert OPTIONAL <= nullable(engine, "epochs")
    assert "test_accuracy" in nullable(engine, "class_epochs")
    assert "nc1" not in nullable(engine, "epochs"), "a metric every run records stays NOT NULL"
    assert "ix_epochs_run_id" in {index["name"] for index in inspect(engine).get_indexes("epochs")}

    with engine.begin() as connection:
        connection.execute(text(EPOCH_WITHOUT_LOGITS))
        connection.execute(text("INSERT INTO class_epochs VALUES (1, 2, 0, 0.1, 0.2, 1, 0.3, NULL)"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text(EPOCH_WITHOUT_LOGITS))
    with engine.begin() as connection:  # a new connection: foreign keys on (store.engine)
        connection.execute(text("DELETE FROM runs WHERE id = 1"))
        left = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("epochs", "class_epochs")}
    assert left == {"epochs": 0, "class_epochs": 0}, "cascade kept"
    engine.dispose()
