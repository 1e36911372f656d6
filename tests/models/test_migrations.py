"""Schema migrations on real databases (SQLite, or PostgreSQL when DATABASE_URL says so): the migrated
schema is exactly what the models define, the first revision round-trips, a database created before
migrations existed is adopted with its rows, upgrading is idempotent, also from two processes at once,
and `flask db` reports the revision."""

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (every table on SQLModel.metadata)
from models import (
    CapabilityTag,
    ChangeCounter,
    Domain,
    Industry,
    LoginFailure,
    Provider,
    ProviderStatus,
    Role,
    User,
    make_engine,
    upgrade_database,
    utcnow,
)
from models.session import BASELINE, alembic_config, current_revision, head_revision, migration_connection
from tests.conftest import drop_everything, pre_migration_schema

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url(tmp_path) -> Iterator[str]:
    """An empty database: a new SQLite file, or the suite's PostgreSQL database with everything dropped
    (the next test's `app` fixture migrates it again)."""
    pg = os.environ.get("DATABASE_URL")
    if pg and pg.startswith("postgresql"):
        clean = make_engine(pg)
        drop_everything(clean)
        clean.dispose()
        yield pg
    else:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"


@pytest.fixture
def db(url) -> Iterator[Engine]:
    bound = make_engine(url)
    yield bound
    bound.dispose()


def differences(db: Engine) -> list:
    """What `flask db revision --autogenerate` would put into a new revision."""
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, SQLModel.metadata)


def model_enums() -> dict[str, list[str]]:
    return {
        column.type.name: list(column.type.enums)
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.Enum)
    }


def database_enums(db: Engine) -> dict[str, list[str]]:
    """PostgreSQL's enum types with their values in order (autogenerate does not compare these)."""
    query = text(
        "SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
        " JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema()"
        " ORDER BY t.typname, e.enumsortorder"
    )
    found: dict[str, list[str]] = {}
    with db.connect() as connection:
        for name, label in connection.execute(query):
            found.setdefault(name, []).append(label)
    return found


def columns(db: Engine) -> dict[str, set[str]]:
    inspector = inspect(db)
    return {name: {column["name"] for column in inspector.get_columns(name)} for name in inspector.get_table_names()}


def rows(db: Engine, only: dict[str, set[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every model table the database has, in primary-key order, with the columns the
    database has (a later revision may add columns to a table that an older schema holds), or only
    those of `only` (an older schema's, to compare its rows after an upgrade)."""
    present = columns(db) if only is None else only
    with db.connect() as connection:
        found = {}
        for table in SQLModel.metadata.sorted_tables:
            if table.name in present:
                names = present[table.name]
                query = select(*(c for c in table.columns if c.name in names)).order_by(*table.primary_key.columns)
                found[table.name] = [tuple(row) for row in connection.execute(query)]
        return found


def tables(db: Engine) -> set[str]:
    return set(inspect(db).get_table_names())


def assert_schema_is_the_models(db: Engine, enum_order: bool = True) -> None:
    assert differences(db) == []
    assert tables(db) == set(SQLModel.metadata.tables) | {"alembic_version"}
    if db.dialect.name == "postgresql":
        expected, found = model_enums(), database_enums(db)
        if enum_order:
            assert found == expected
        else:  # a value added to an existing type goes to its end
            assert {name: set(values) for name, values in found.items()} == {
                name: set(values) for name, values in expected.items()
            }
    assert current_revision(db) == head_revision()


def test_the_migrated_schema_is_exactly_the_models(db):
    assert current_revision(db) is None
    upgrade_database(db)
    assert_schema_is_the_models(db)
    # The change-counter row solutions are stamped with; row 2 (taxonomy version) comes with the first change.
    assert rows(db)["changecounter"] == [(1, 0)]
    assert {name for name, content in rows(db).items() if content} == {"changecounter"}


def test_the_first_revision_downgrades_to_nothing_and_upgrades_again(db):
    upgrade_database(db)
    with migration_connection(db) as connection:
        command.downgrade(alembic_config(connection), "base")
    assert tables(db) == {"alembic_version"}
    assert current_revision(db) is None
    if db.dialect.name == "postgresql":
        assert database_enums(db) == {}  # the enum types went too
    with migration_connection(db) as connection:
        command.upgrade(alembic_config(connection), "head")
    assert_schema_is_the_models(db)
    assert rows(db)["changecounter"] == [(1, 0)]


def _use(session: Session) -> None:
    """Rows as the platform writes them."""
    # The user row through the baseline's columns: a later revision adds columns to the table.
    session.execute(
        text(
            'INSERT INTO "user" (email, password_hash, role, display_name, is_active, created_at)'
            " VALUES ('admin@example.com', 'x', 'admin', '管理员', true, :now)"
        ),
        {"now": utcnow()},
    )
    session.add(Domain(code="software", name="工业软件与APP服务", description="", position=1))
    session.add(Industry(code="C21", name="家具制造业", kind="division", gbt=["C21"], synonyms=["家具"]))
    session.flush()
    session.add(CapabilityTag(name="MES", domain="software", synonyms=["制造执行系统"]))
    session.add(
        Provider(
            name="测试数字科技",
            credit_code="91440300MA5000001X",
            domains=["software"],
            contact_name="李经理",
            phone="13900139000",
            email="vendor@example.com",
            status=ProviderStatus.approved,
            approved_until=date(2027, 1, 1),
        )
    )
    session.add(LoginFailure(kind="ip", key="10.0.0.1", created_at=utcnow()))
    session.add(ChangeCounter(id=1, value=7))
    session.add(ChangeCounter(id=2, value=3))
    session.commit()


def test_a_database_created_before_migrations_is_adopted_with_its_rows(db):
    pre_migration_schema(db)
    with Session(db) as session:
        _use(session)
    before, old_columns = rows(db), columns(db)

    upgrade_database(db)

    after = rows(db, old_columns) | {name: found for name, found in rows(db).items() if name not in old_columns}
    # the counter row too: the adoption inserts row 1 only where it is missing; later revisions' tables start empty
    assert {table: after[table] for table in before} == before
    assert all(not after[table] for table in after.keys() - before.keys())
    assert_schema_is_the_models(db)


def test_an_older_pre_migration_database_gets_what_create_all_would_have_added(db):
    """A database created by an older version (no `expired` status, no login throttling table, an index
    added later missing) is brought to the first revision's schema when adopted."""
    pre_migration_schema(db)
    with Session(db) as session:
        _use(session)
    with db.begin() as connection:
        connection.execute(text("DROP TABLE login_failure"))
        connection.execute(text("DROP INDEX ix_solution_change_seq"))
        if db.dialect.name == "postgresql":
            older = ", ".join(f"'{status.value}'" for status in ProviderStatus if status != ProviderStatus.expired)
            connection.execute(text("ALTER TABLE provider ALTER COLUMN status TYPE varchar(20)"))
            connection.execute(text("DROP TYPE providerstatus"))
            connection.execute(text(f"CREATE TYPE providerstatus AS ENUM ({older})"))
            connection.execute(
                text("ALTER TABLE provider ALTER COLUMN status TYPE providerstatus USING status::providerstatus")
            )
    kept, old_columns = rows(db), columns(db)
    assert "login_failure" not in kept

    upgrade_database(db)

    assert_schema_is_the_models(db, enum_order=False)
    assert rows(db, old_columns) == kept
    with Session(db) as session:
        provider = session.exec(select(Provider)).scalars().one()
        provider.status = ProviderStatus.expired
        session.commit()


def test_upgrading_again_changes_nothing(db):
    upgrade_database(db)
    with Session(db) as session:
        session.add(User(email="someone@example.com", password_hash="x", role=Role.enterprise, display_name="某人"))
        session.commit()
    before = rows(db)

    upgrade_database(db)  # the quick path: already at the newest revision
    with migration_connection(db) as connection:  # and alembic itself, under the lock
        command.upgrade(alembic_config(connection), "head")

    assert rows(db) == before
    assert_schema_is_the_models(db)
    with db.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]


_UPGRADER = """
import sys
from models import make_engine, upgrade_database
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
upgrade_database(engine)
print("done", flush=True)
"""


def test_two_processes_starting_at_once_both_come_up_on_one_migrated_schema(db, url):
    """Like two gunicorn workers (or servers) starting together on an empty database."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADER, url],
            cwd=PROJECT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:  # both have imported everything: now let them go at the same moment
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "done"
    assert_schema_is_the_models(db)
    assert rows(db)["changecounter"] == [(1, 0)]
    with db.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]


def test_a_new_sqlite_connection_waits_for_a_writer_before_switching_the_file_to_wal(tmp_path):
    """SQLite refuses the switch to WAL at once ("database is locked", no busy wait) while another
    connection holds the write lock: what made two workers starting on a new file fail now and then."""
    path = tmp_path / "new.sqlite"
    writing, release, committed = threading.Event(), threading.Event(), threading.Event()

    def writer() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("CREATE TABLE t (x)")
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (1)")
        writing.set()
        release.wait(timeout=60)  # holds the write lock until the test has seen the refusal
        connection.execute("COMMIT")
        committed.set()
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    writing.wait()
    bare = sqlite3.connect(path, timeout=30)
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # what the engine has to cope with
        bare.execute("PRAGMA journal_mode=WAL")
    bare.close()

    threading.Timer(0.5, release.set).start()  # commits while the engine below is (most likely) retrying
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert committed.is_set()  # it waited for the writer instead of failing
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]
    engine.dispose()
    thread.join()


def test_the_first_revision_is_the_baseline_that_adoption_stamps():
    assert BASELINE in {script.revision for script in _scripts()}
    assert [script.revision for script in _scripts() if script.down_revision is None] == [BASELINE]


def _scripts():
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config()).walk_revisions())


# --- flask db -----------------------------------------------------------------------------------------


def test_flask_db_current_prints_the_newest_revision(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{head_revision()}（最新）"


def test_flask_db_upgrade_and_init_db_migrate_an_empty_database(url, tmp_path):
    from matchmaker import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x", "MATCHMAKER_ENCODER": "hash"})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0 and "尚未迁移" in result.output and "flask db upgrade" in result.output

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"数据库结构已是最新版本：{head_revision()}"
    assert runner.invoke(args=["db", "current"]).output.strip() == f"{head_revision()}（最新）"

    result = runner.invoke(args=["init-db"])  # the old name, kept: runs the same upgrade
    assert result.exit_code == 0 and "数据库表已就绪" in result.output
    with app.app_context():
        from matchmaker.plumbing.db import engine

        assert_schema_is_the_models(engine())
        engine().dispose()
