"""Engine factory and schema upgrades: SQLite (WAL) by default, any SQLAlchemy URL accepted.

:func:`open_sessions` is the one way programs open a database: it refuses, with one
:class:`UnusableDatabase` line and before writing anything, a file that is missing (when it must
exist), not a SQLite database, read-only, or another program's database.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.runconfig import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
SQLITE_HEADER = b"SQLite format 3\x00"
DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full


class UnusableDatabase(ConfigError):
    """A database that cannot be used: missing, not a database, unreadable or read-only."""


class ForeignDatabase(UnusableDatabase):
    """A non-empty database that is not centerlens's: its tables are left alone."""


def is_url(db: str | Path) -> bool:
    """Whether ``db`` is a SQLAlchemy URL rather than a SQLite file path."""
    return "://" in str(db)


def database_url(db: str | Path) -> str:
    """Turn a file path or URL into a SQLAlchemy URL (a bare path means SQLite)."""
    value = str(db)
    if is_url(value):
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def sqlite_file(db: str | Path) -> Path | None:
    """The file of a SQLite database (path or ``sqlite:///`` URL); None for in-memory or other servers."""
    url = make_url(database_url(db))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def check_sqlite_target(db: str | Path, create: bool = True) -> None:
    """Refuse a SQLite file centerlens cannot use (before anything is written); URLs of servers pass.

    With ``create`` a missing file is fine when its folder is writable; without, it is an error.
    """
    path = sqlite_file(db)
    if path is None:
        return
    folder = path.parent
    if path.is_dir():
        raise UnusableDatabase(f"database path {path} is a folder, not a file")
    if not path.exists():
        if not create:
            raise UnusableDatabase(f"database {path} does not exist")
        if not folder.is_dir():
            raise UnusableDatabase(f"database folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise UnusableDatabase(f"cannot create database {path}: folder {folder} is not writable")
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise UnusableDatabase(f"database {path} is not readable ({error.strerror})") from error
    if header and header != SQLITE_HEADER:
        raise UnusableDatabase(f"{path} is not a SQLite database (it was left unchanged)")
    if not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
        raise UnusableDatabase(
            f"database {path} is read-only (centerlens needs to write the file and its folder {folder})"
        )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_db_engine(db: str | Path) -> Engine:
    """Create an engine; SQLite connections get synchronous=NORMAL, busy_timeout and foreign keys.

    WAL is switched on by :func:`upgrade_database` (it is stored in the file), so opening another
    program's database to find out whose it is changes nothing in it.
    """
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


def _alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _our_revisions(config) -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def check_owner(connection: Connection, adopt: bool = False) -> None:
    """Refuse a non-empty database that is not centerlens's (no alembic_version naming our revision).

    ``adopt`` lets centerlens add its tables beside another program's (never over another
    program's own alembic_version).
    """
    tables = set(inspect(connection).get_table_names())
    shown = connection.engine.url.render_as_string(hide_password=True)
    if "alembic_version" in tables:
        stamped = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        unknown = stamped - _our_revisions(_alembic_config())
        if unknown:
            raise ForeignDatabase(
                f"database {shown} is at schema revision {sorted(unknown)[0]!r}, which this centerlens "
                "does not know (a newer centerlens, or another program's database); it was left unchanged"
            )
        if stamped or tables == {"alembic_version"}:
            return
    if tables and not adopt:
        names = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
        raise ForeignDatabase(
            f"database {shown} belongs to another program (its tables: {names}); "
            "centerlens adds no tables to it: use a new database, or --adopt-database to share this one"
        )


def upgrade_database(engine: Engine, revision: str = "head", adopt: bool = False) -> None:
    """Bring the schema to ``revision`` (the newest by default; creates it on an empty database).

    Another program's database is refused first (:func:`check_owner`). On SQLite, WAL is switched
    on, and foreign keys are off while migrating: a migration that rebuilds a table (SQLite's only
    way to alter some columns) must not cascade-delete the rows that reference it.
    """
    from alembic import command

    config = _alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        check_owner(connection, adopt)
        connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
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


def first_line(error: BaseException) -> str:
    """The driver's own message of a database error (without SQLAlchemy's SQL and links)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def open_sessions(db: str | Path, create: bool = True, adopt: bool = False) -> sessionmaker[Session]:
    """Sessions on ``db`` (path or URL) with the schema upgraded to the newest migration.

    Raises :class:`UnusableDatabase` (one line) for a database that cannot be used; without
    ``create`` a missing SQLite file is one of those.
    """
    check_sqlite_target(db, create)
    engine = create_db_engine(db)
    try:
        upgrade_database(engine, adopt=adopt)
    except SQLAlchemyError as error:
        engine.dispose()
        shown = engine.url.render_as_string(hide_password=True)
        raise UnusableDatabase(f"cannot open database {shown}: {first_line(error)}") from error
    except UnusableDatabase:
        engine.dispose()
        raise
    return session_factory(engine)


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is a full disk: ENOSPC/EDQUOT, SQLite's or PostgreSQL's."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        cause = error.orig if isinstance(error, DBAPIError) else error
        if "database or disk is full" in str(cause) or DISK_FULL_SQLSTATE in (
            getattr(cause, "pgcode", None),
            getattr(cause, "sqlstate", None),
        ):
            return True
        error = error.__cause__ or error.__context__
    return False
