"""Engine factory and schema upgrades: SQLite (WAL) by default, any SQLAlchemy URL accepted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000


def is_url(db: str | Path) -> bool:
    """Whether ``db`` is a SQLAlchemy URL rather than a SQLite file path."""
    return "://" in str(db)


def database_url(db: str | Path) -> str:
    """Turn a file path or URL into a SQLAlchemy URL (a bare path means SQLite)."""
    text = str(db)
    if is_url(text):
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_db_engine(db: str | Path) -> Engine:
    """Create an engine; SQLite connections get WAL, synchronous=NORMAL, busy_timeout, foreign keys."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the newest by default; creates it on an empty database).

    On SQLite, foreign keys are off while migrating: a migration that rebuilds a table (SQLite's
    only way to alter some columns) must not cascade-delete the rows that reference it.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def open_sessions(db: str | Path) -> sessionmaker[Session]:
    """Sessions on ``db`` (path or URL) with the schema upgraded to the newest migration."""
    engine = create_db_engine(db)
    upgrade_database(engine)
    return session_factory(engine)
