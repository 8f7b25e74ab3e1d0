"""Schema upgrades keep every recorded row (the database of an older version keeps working)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from store import create_db_engine, upgrade_database

TABLES = ("runs", "probe_samples", "epochs", "class_epochs", "embedding_snapshots", "projections")


def fill_initial_schema(engine) -> None:
    """Rows as version 0001 wrote them, in every table that references a run."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO runs (id, name, method, dataset, model, config, seed, status, epochs_planned,"
                " created_at) VALUES (1, 'old', 'ce', 'digits', 'small_cnn', '{}', 0, 'completed', 1,"
                " CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO probe_samples VALUES (1, 0, 5, 3, :png)"), {"png": b"png"})
        floats = ", ".join(["0.5"] * 21)
        connection.execute(text(f"INSERT INTO epochs VALUES (1, 1, 1, {floats}, CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO class_epochs VALUES (1, 1, 0, 0.1, 0.2, 1, 0.3, 0.4)"))
        connection.execute(
            text("INSERT INTO embedding_snapshots VALUES (1, 1, :b, :b, :b, :b, :b, NULL)"), {"b": b"x"}
        )
        connection.execute(
            text(
                "INSERT INTO projections (id, run_id, epoch, method, frame, status, created_at)"
                " VALUES (1, 1, 1, 'pca', 'run', 'ok', CURRENT_TIMESTAMP)"
            )
        )


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in TABLES}


def test_upgrading_an_initial_database_keeps_every_row(db_url: str) -> None:
    engine = create_db_engine(db_url)
    upgrade_database(engine, "0001")
    fill_initial_schema(engine)
    before = counts(engine)
    assert set(before.values()) == {1}
    upgrade_database(engine)
    assert counts(engine) == before
    assert "cancel_requested" in {column["name"] for column in inspect(engine).get_columns("runs")}
    upgrade_database(engine)  # idempotent
    assert counts(engine) == before
