"""Engine construction for SQLite (default) and PostgreSQL, and the schema migrations (Alembic).

Tables are created and changed only by the migrations in `models/migrations/versions`;
`upgrade_database` brings a database to the newest one and is safe to run on every start.
"""

import functools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, exc, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The first revision: the schema as it was when migrations were introduced. A database made before
# then (tables, no alembic_version) is adopted by running it in "adopt" mode, see upgrade_database.
BASELINE = "0001"
# How long a new SQLite connection keeps trying to switch the file to WAL while another holds it.
_SQLITE_BUSY_SECONDS = 30.0
# A pooled PostgreSQL connection that sat unused this long is pinged before use (see _ping_when_idle).
IDLE_PING_SECONDS = 10.0
# pg_advisory_lock key held while migrating, so that workers starting at once migrate one at a time.
_PG_LOCK_KEY = 0x706E_6773_6D69_67  # "pngsmig"


def make_engine(url: str, idle_ping_seconds: float = IDLE_PING_SECONDS, pool_size: int = 5) -> Engine:
    """Create an engine; SQLite gets foreign keys on and may be shared across threads; a PostgreSQL
    connection idle in the pool for over `idle_ping_seconds` is pinged before it is handed out.

    `pool_size` (PostgreSQL): connections kept open, as many as the process has threads using the
    database (one beyond it is opened for the moment and closed again: a new backend each time)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_SECONDS})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            _switch_to_wal(cursor)
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=pool_size)
    _ping_when_idle(engine, idle_ping_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat idle for over `idle_seconds`.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip more per request (two where a
    request also reads the index's change counter), about a tenth of a match call's cost under load.
    A connection in steady use is known to work; one idle for a while may have been cut by a database
    restart, a failover or a firewall, and is pinged and replaced, so the first request after a quiet
    spell does not fail. A disconnect in the middle of use still invalidates the whole pool (SQLAlchemy
    recognises it and the next checkouts reconnect), as with pre-ping.
    """

    @event.listens_for(engine, "checkin")
    def _note_checkin(_dbapi_connection, record) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        checked_in = record.info.get("checked_in")
        if checked_in is None or time.monotonic() - checked_in <= idle_seconds:
            return  # new (just connected), or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error  # the pool reconnects


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database file in WAL mode (it stays so; on a WAL file this is a no-op).

    The switch needs the file to itself and, unlike other statements, SQLite does not wait on the busy
    timeout for it: it answers "database is locked" at once while another connection switches or
    writes, as when two workers start together on a new file. So retry, for as long as a write would wait.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def begin_write(session: Session) -> None:
    """Make the session's transaction a writer's from here on, so that a cap or a uniqueness rule it
    checks still holds when it commits; call it before reading what the check counts.

    PostgreSQL: nothing to do here; the caller locks the parent row (SELECT ... FOR UPDATE), which makes
    a concurrent checker wait and then read the committed rows. SQLite ignores FOR UPDATE, and two
    workers would both count, both pass and both insert. pysqlite runs reads outside any transaction
    and opens one (deferred) only at the first write; so, unless a write opened one already (which holds
    the write lock), start it now with BEGIN IMMEDIATE: it takes the database's write lock, waiting for
    another writer up to the busy timeout, and every read after it sees the latest commit. The session's
    commit or rollback ends it as usual.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- migrations --------------------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini: the scripts shipped in this package, and the
    connection env.py runs on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision among the shipped migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "models/migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine) -> None:
    """Bring the database to the newest migration; a no-op when it is there already.

    Safe to run on every start, by several processes at once: the upgrade runs under a lock (a
    PostgreSQL advisory lock; SQLite's write lock, taken by BEGIN IMMEDIATE), and whoever comes second
    finds the work done. A database created before migrations existed (tables but no alembic_version)
    is adopted: the first revision runs in adopt mode, creating only what is missing (tables, indexes,
    enum types and values, the change-counter row) and recording itself, then the later revisions run.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return
    with migration_connection(engine) as connection:
        adopt = not inspect(connection).has_table("alembic_version")
        _end_implicit_transaction(connection)
        config = alembic_config(connection)
        if adopt:
            config.attributes["adopt"] = True
            command.upgrade(config, BASELINE)
            config.attributes["adopt"] = False
            _end_implicit_transaction(connection)
        command.upgrade(config, "head")


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection holding the migration lock, for alembic commands (`alembic_config(connection)`).

    PostgreSQL: a session-level advisory lock; alembic runs its own transactions on the connection
    (so a revision may use `op.get_context().autocommit_block()`). SQLite: one BEGIN IMMEDIATE
    transaction around everything (pysqlite would otherwise commit each DDL statement on its own), with
    foreign keys off so that batch table rebuilds do not trip over references, checked before commit.
    """
    if engine.dialect.name == "sqlite":
        with _sqlite_migration_connection(engine) as connection:
            yield connection
        return
    if engine.dialect.name != "postgresql":
        raise RuntimeError(f"unsupported database: {engine.dialect.name}")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        connection.commit()
        try:
            yield connection
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
            except SQLAlchemyError:
                connection.invalidate()  # closing the session releases the lock


@contextmanager
def _sqlite_migration_connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        legacy_mode = driver.isolation_level
        driver.isolation_level = None  # the transaction below is ours, not pysqlite's
        try:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits (timeout 30 s) for another migrator
            try:
                yield connection
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            driver.isolation_level = legacy_mode


def _end_implicit_transaction(connection: Connection) -> None:
    """On PostgreSQL, end the transaction a query auto-began, so alembic runs its own; on SQLite the
    migration connection's one transaction stays open."""
    if connection.dialect.name == "postgresql":
        connection.commit()
