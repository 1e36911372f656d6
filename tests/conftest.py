"""Fixtures: a fresh app and database per test (SQLite file, or PostgreSQL when DATABASE_URL says so)."""

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (every table on SQLModel.metadata)
from matchmaker import create_app
from matchmaker.commands.seed import SeedReport, load_taxonomy
from matchmaker.matching.search_index import SearchIndex
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from models import make_engine, upgrade_database
from models.session import BASELINE, alembic_config, current_revision, head_revision, migration_connection
from models.validation import credit_code_check_char

SMALL_TAXONOMY = {
    "domains": [
        {"code": "data_collection", "name": "数据采集", "description": ""},
        {"code": "network", "name": "工业互联网网络服务", "description": ""},
        {"code": "software", "name": "工业软件与APP服务", "description": ""},
        {"code": "integration", "name": "工业互联网系统集成解决方案", "description": ""},
        {"code": "security", "name": "工业互联网安全服务", "description": ""},
        {"code": "diagnosis", "name": "数字化转型诊断服务", "description": ""},
    ],
    "industries": [
        {"code": "C21", "name": "家具制造业", "kind": "division", "gbt": ["C21"], "synonyms": ["家具"]},
        {"code": "C36", "name": "汽车制造业", "kind": "division", "gbt": ["C36"], "synonyms": ["汽车"]},
        {"code": "furniture", "name": "家具", "kind": "cluster", "gbt": ["C21"], "synonyms": ["沙发", "橱柜"]},
        {"code": "auto_parts", "name": "汽车零部件", "kind": "cluster", "gbt": ["C36"], "synonyms": ["汽配"]},
        {"code": "general", "name": "通用", "kind": "general", "gbt": [], "synonyms": ["通用"]},
    ],
    "tags": [
        {"name": "设备联网", "domain": "data_collection", "synonyms": ["数采", "IoT", "物联网"]},
        {"name": "MES", "domain": "software", "synonyms": ["制造执行系统", "生产管理系统"]},
        {"name": "等保测评", "domain": "security", "synonyms": ["等级保护", "等保三级"]},
    ],
}

PASSWORD = "Secret123"


def credit_code(serial: int) -> str:
    """A valid 统一社会信用代码 for test number `serial`."""
    first17 = f"91440300MA5{serial:06d}"
    return first17 + credit_code_check_char(first17)


def _test_database_url(tmp_path) -> str:
    """A database at the newest migration holding only the rows the migrations insert.

    Every test gets one, so it must be quick while still being built by the migrations: SQLite, a copy
    of a file migrated once per run; PostgreSQL (DATABASE_URL), the database migrated once per run and
    emptied between tests, or dropped and migrated again when a test changed its schema.
    """
    url = os.environ.get("DATABASE_URL")
    if url and url.startswith("postgresql"):
        _reset_postgres(url)
        return url
    path = tmp_path / "test.sqlite"
    shutil.copyfile(_sqlite_template(), path)
    return f"sqlite:///{path}"


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="matchmaker-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.sqlite"
    template = make_engine(f"sqlite:///{path}")
    upgrade_database(template)
    with template.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    template.dispose()
    return path


@functools.cache
def _postgres_engine(url: str) -> Engine:
    return make_engine(url)


_PG_MIGRATED: dict[str, tuple[tuple, dict[str, list[dict]]]] = {}  # url -> (schema fingerprint, migration rows)
_FINGERPRINT = text(
    "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()),"
    " (SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()),"
    " (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
    "  WHERE n.nspname = current_schema()),"
    " (SELECT count(*) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n"
    "  ON n.oid = t.typnamespace WHERE n.nspname = current_schema())"
)

_USED_SEQUENCES = text(
    "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _reset_postgres(url: str) -> None:
    db = _postgres_engine(url)
    known = _PG_MIGRATED.get(url)
    if known is not None and current_revision(db) == head_revision():
        fingerprint, rows = known
        try:
            with db.begin() as connection:
                if tuple(connection.execute(_FINGERPRINT).one()) == fingerprint:
                    # DELETE, not TRUNCATE: on a few rows it takes milliseconds where TRUNCATE takes ~0.5 s
                    connection.execute(text("SET LOCAL synchronous_commit = off"))  # a test database
                    tables = reversed(SQLModel.metadata.sorted_tables)
                    connection.exec_driver_sql("; ".join(f'DELETE FROM "{table.name}"' for table in tables))
                    used = connection.execute(_USED_SEQUENCES).scalars().all()
                    for sequence in used:
                        connection.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
                    for table in SQLModel.metadata.sorted_tables:
                        if rows[table.name]:
                            connection.execute(table.insert(), rows[table.name])
                    return
        except SQLAlchemyError:
            pass  # a test left the schema in pieces: start again
    drop_everything(db)
    upgrade_database(db)
    with db.connect() as connection:
        fingerprint = tuple(connection.execute(_FINGERPRINT).one())
        rows = {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in SQLModel.metadata.sorted_tables
        }
    _PG_MIGRATED[url] = (fingerprint, rows)


def pre_migration_schema(db: Engine) -> None:
    """What create_tables made on every start before there were migrations: the models of that time,
    which are the baseline revision's schema, with no alembic_version. (Not create_all of today's
    models: tables and columns added by later revisions did not exist then.)"""
    with migration_connection(db) as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    with db.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DELETE FROM changecounter"))  # create_tables inserted no row


def drop_everything(db: Engine) -> None:
    """Drop every table (alembic_version too) and enum type in the PostgreSQL database's schema."""
    with db.begin() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        if names := ", ".join(f'"{name}"' for name in tables.scalars()):
            connection.execute(text(f"DROP TABLE {names} CASCADE"))
        types = connection.execute(
            text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                " WHERE t.typtype = 'e' AND n.nspname = current_schema()"
            )
        )
        if names := ", ".join(f'"{name}"' for name in types.scalars()):
            connection.execute(text(f"DROP TYPE {names} CASCADE"))


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": _test_database_url(tmp_path),
            "SECRET_KEY": "test-secret",
            "MATCHMAKER_ENCODER": "hash",
            # The band cut-offs were derived on the USE encoder's scores, not the hash encoder's: every
            # result is recommended unless a test sets them (tests/services/test_dockings.py does).
            "MATCHMAKER_BAND_PARTIAL": 0.0,
            # API calls logged as they are made: no writer thread outlives the test's database
            # (tests/api/test_api_call_log.py covers the batched writer).
            "MATCHMAKER_API_LOG_INTERVAL": 0,
            # Tests arrange rows through their own session and expect the next request to see them
            # (tests/matching/test_need_matching.py covers the poll interval).
            "MATCHMAKER_INDEX_POLL_SECONDS": 0,
        }
    )
    with app.app_context():
        upgrade_database(engine())  # a no-op here: what every start of the platform does
        with Session(engine()) as session:
            load_taxonomy(session, SMALL_TAXONOMY, SeedReport())
            session.commit()
    yield app
    with app.app_context():
        engine().dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging and checking rows directly."""
    with app.app_context():
        bound = engine()
    # No app context stays pushed: requests made meanwhile must get their own, as in production
    # (a shared one would share `g`, and with it the logged-in user and the request's session).
    with Session(bound, expire_on_commit=False) as session:
        yield session


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/auth/login") -> str:
    html = client.get(page).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1) or match.group(2)


def post(client: FlaskClient, url: str, data: dict, page: str = "/auth/login", **kwargs):
    """POST like a browser would: with the CSRF token from a page of the current session."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)}, **kwargs)


def enterprise_form(serial: int = 1, **overrides) -> dict:
    data = {
        "email": f"factory{serial}@example.com",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "name": f"测试家具厂{serial}",
        "credit_code": credit_code(serial),
        "industry": "furniture",
        "employees": "120",
        "revenue": "3500",
        "maturity_level": "2",
        "street": "坪山街道",
        "address": "坪山大道1号",
        "contact_name": "王厂长",
        "phone": "13800138000",
    }
    return data | overrides


def provider_form(serial: int = 500, **overrides) -> dict:
    data = {
        "email": f"vendor{serial}@example.com",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "name": f"测试数字科技{serial}",
        "credit_code": credit_code(serial),
        "contact_name": "李经理",
        "phone": "13900139000",
        "domains": ["data_collection", "software"],
    }
    return data | overrides


def confirmation_link(app: Flask, email: str) -> str | None:
    """The site-relative confirmation link of the newest registration mail to `email`, from the outbox."""
    from models import OutboxMail

    with app.app_context(), Session(engine()) as session:
        mails = session.scalars(
            select(OutboxMail).where(OutboxMail.to_address == email.lower()).order_by(OutboxMail.id.desc())
        )
        for mail in mails:
            found = re.search(r"(/auth/register/confirm/[\w-]+)", mail.body)
            if found:
                return found.group(1)
    return None


def register(client: FlaskClient, role: str, form: dict):
    """Register as a browser would: submit the form, then open the mailed link and confirm. Returns the
    form's answer (a redirect to 请查收确认邮件 when the form was valid)."""
    response = post(client, f"/auth/register/{role}", form, page=f"/auth/register/{role}")
    link = confirmation_link(client.application, form["email"]) if response.status_code == 302 else None
    if link is not None and client.get(link).status_code == 200:
        assert post(client, link, {}, page=link).status_code == 302
    return response


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    return post(client, "/auth/login", {"email": email, "password": password})


@pytest.fixture
def enterprise_client(client: FlaskClient) -> FlaskClient:
    assert register(client, "enterprise", enterprise_form()).status_code == 302
    assert login(client, "factory1@example.com").status_code == 302
    return client


@pytest.fixture
def provider_client(client: FlaskClient) -> FlaskClient:
    assert register(client, "provider", provider_form()).status_code == 302
    assert login(client, "vendor500@example.com").status_code == 302
    return client


@pytest.fixture
def admin_client(app: Flask, client: FlaskClient) -> FlaskClient:
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert login(client, "admin@example.com").status_code == 302
    return client


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run, shared by every browser test: Playwright's sync API cannot
    start a second instance while one is running."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make browser` installs it (chromium, fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def db_engine(app: Flask) -> Engine:
    with app.app_context():
        return engine()


@pytest.fixture
def index(app: Flask) -> SearchIndex:
    with app.app_context():
        return search_index()


def table_snapshot(
    bound: Engine, skip_tables: Collection[str] = (), skip_columns: Collection[tuple[str, str]] = ()
) -> dict[str, list[str]]:
    """Every row of every table, in a stable order: what "nothing written, nothing changed" is checked
    against (`skip_columns` as (table, column) pairs)."""
    state = {}
    with bound.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip_tables:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in skip_columns]
            state[table.name] = sorted(repr(tuple(row)) for row in connection.execute(select(*columns)))
    return state
