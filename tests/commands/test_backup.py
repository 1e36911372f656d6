"""`flask backup` / `flask restore` round trips on the suite's database (SQLite, or PostgreSQL when
DATABASE_URL says so): every row of every table comes back, the manifest tells the truth, and a
restore refuses what it should with nothing changed."""

import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (every table on SQLModel.metadata)
from matchmaker import create_app
from matchmaker.commands.backup import MANIFEST
from matchmaker.matching.signals import NeedProfile
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import publishing
from models import Enterprise, LoginFailure, upgrade_database, utcnow
from models.schemas import NeedCreate
from tests.web.test_xss import PAYLOAD, World, world  # noqa: F401  (the fixture: a platform in use, every role)

# Tables the fixture fills; a round trip that compares empty tables proves little.
FILLED = {
    "user", "enterprise", "provider", "successcase", "whitelistevent", "solution", "solutionvector", "need",
    "matchresult", "docking", "dockingevent", "auditlog", "notification", "login_failure", "changecounter",
}  # fmt: skip


def _rows(db: Engine) -> dict[str, list[tuple]]:
    """Every row of every table the models define, in primary-key order."""
    with db.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in SQLModel.metadata.sorted_tables
        }


def _target_url(app: Flask, tmp_path: Path) -> str:
    """An empty database of the suite's kind: a new SQLite file, or a fresh PostgreSQL database."""
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite'}"
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def used(world: World) -> World:  # noqa: F811
    """The platform after every role used it, plus a throttled login."""
    with world.app.app_context(), Session(engine()) as session:
        session.add(LoginFailure(kind="account", key="guess@example.com", created_at=utcnow()))
        session.commit()
    return world


@pytest.fixture
def target(app: Flask, tmp_path: Path) -> Flask:
    restored = create_app({**app.config, "DATABASE_URL": _target_url(app, tmp_path)})
    yield restored
    with restored.app_context():
        engine().dispose()


def _backup(app: Flask, path: Path):
    result = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    return result


def _restore(app: Flask, path: Path, *flags: str):
    return app.test_cli_runner().invoke(args=["restore", str(path), *flags])


def _manifest(path: Path) -> dict:
    with tarfile.open(path) as archive:
        return json.loads(archive.extractfile(MANIFEST).read())


def _rewrite(path: Path, out: Path, manifest: dict | None = None, dump_tail: bytes = b"") -> None:
    """A copy of the archive with another manifest, or with bytes appended to the dump."""
    with tarfile.open(path) as source, tarfile.open(out, "w") as copy:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == MANIFEST and manifest is not None:
                data = json.dumps(manifest).encode()
            elif member.name != MANIFEST:
                data += dump_tail
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))


def test_round_trip_loses_nothing(app, used, target, tmp_path):
    path = tmp_path / "platform.backup"
    assert "备份完成" in _backup(app, path).output
    with app.app_context():
        before = _rows(engine())
    assert {name for name, rows in before.items() if rows} >= FILLED

    result = _restore(target, path)
    assert result.exit_code == 0, result.output
    assert "恢复完成" in result.output and "HUP" in result.output
    with target.app_context():
        after = _rows(engine())
    assert after == before
    assert any(PAYLOAD in str(row) for row in after["need"])  # text comes back byte for byte

    manifest = _manifest(path)
    assert manifest["dialect"] == make_url(app.config["DATABASE_URL"]).get_backend_name()
    assert {name: len(rows) for name, rows in before.items()}.items() <= manifest["tables"].items()
    assert manifest["encoder"] == "hash" and manifest["vector_models"] == {
        "hash-char-ngrams-256-test-only": len(before["solutionvector"])
    }
    assert manifest["change_counter"] == before["changecounter"][0][1] > 0


def test_the_restored_database_serves_matches_from_a_rebuilt_index(app, used, target, tmp_path):
    path = tmp_path / "platform.backup"
    _backup(app, path)
    assert _restore(target, path).exit_code == 0
    with target.app_context():
        ranked = search_index().match(engine(), NeedProfile(text="开料机 封边机 设备联网 产量"))
    assert [match.solution_id for match in ranked] == [used.ids["solution"]]


def test_a_target_with_data_is_refused_unless_forced(app, used, target, tmp_path):
    path = tmp_path / "platform.backup"
    _backup(app, path)
    with target.app_context():
        upgrade_database(engine())
        with Session(engine()) as session:
            session.add(LoginFailure(kind="ip", key="10.9.9.9", created_at=utcnow()))
            session.commit()
        kept = _rows(engine())

    refused = _restore(target, path)
    assert refused.exit_code != 0 and "目标数据库已有数据" in refused.output and "--force" in refused.output
    with target.app_context():
        assert _rows(engine()) == kept

    assert _restore(target, path, "--force").exit_code == 0
    with app.app_context():
        before = _rows(engine())
    with target.app_context():
        assert _rows(engine()) == before


def test_a_target_prepared_by_db_upgrade_counts_as_empty(app, used, target, tmp_path):
    """`flask db upgrade` writes its revision and the change counter: bookkeeping, not data."""
    path = tmp_path / "platform.backup"
    _backup(app, path)
    with target.app_context():
        upgrade_database(engine())
    result = _restore(target, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        before = _rows(engine())
    with target.app_context():
        assert _rows(engine()) == before


def test_a_corrupted_dump_is_refused_before_anything_changes(app, used, target, tmp_path):
    path, bad = tmp_path / "platform.backup", tmp_path / "corrupt.backup"
    _backup(app, path)
    _rewrite(path, bad, dump_tail=b"\0garbage")
    result = _restore(target, bad)
    assert result.exit_code != 0 and "校验值与清单不符" in result.output
    with target.app_context():
        assert not any(_rows_if_any(engine()).values())


def _rows_if_any(db: Engine) -> dict[str, int]:
    from sqlalchemy import inspect

    with db.connect() as connection:
        names = inspect(connection).get_table_names()
        return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names}


def test_restore_checks_every_count_against_the_manifest(app, used, target, tmp_path):
    path, lying = tmp_path / "platform.backup", tmp_path / "lying.backup"
    _backup(app, path)
    manifest = _manifest(path)
    manifest["tables"]["solution"] += 1
    _rewrite(path, lying, manifest=manifest)
    result = _restore(target, lying)
    assert result.exit_code != 0 and "恢复后核对行数不一致" in result.output and "solution" in result.output


def test_a_backup_of_the_other_database_kind_or_a_stray_file_is_refused(app, used, target, tmp_path):
    path, other = tmp_path / "platform.backup", tmp_path / "other.backup"
    _backup(app, path)
    manifest = _manifest(path)
    manifest["dialect"] = "postgresql" if manifest["dialect"] == "sqlite" else "sqlite"
    _rewrite(path, other, manifest=manifest)
    result = _restore(target, other)
    assert result.exit_code != 0 and "不能恢复到" in result.output

    stray = tmp_path / "notes.txt"
    stray.write_text("not a backup", encoding="utf-8")
    result = _restore(target, stray)
    assert result.exit_code != 0 and "不是有效的备份文件" in result.output


def _dangling_references(db: Engine) -> list[str]:
    """Every foreign key whose value names no row, as "table.column -> table" (on either database)."""
    broken = []
    with db.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for key in table.foreign_keys:
                child, parent = key.parent, key.column
                orphans = connection.execute(
                    select(func.count())
                    .select_from(table.outerjoin(parent.table, child == parent))
                    .where(child.is_not(None), parent.is_(None))
                ).scalar_one()
                if orphans:
                    broken.append(f"{table.name}.{child.name} -> {parent.table.name} ({orphans})")
    return broken


def test_a_backup_taken_while_requests_write_restores_to_a_consistent_state(app, used, target, tmp_path):
    """Needs are published (a need, its ranking and notifications in one transaction each) in a thread
    while the backup runs: the restore holds whole transactions only, with every count as the manifest
    says and every foreign key pointing at a row."""
    started, stop = threading.Event(), threading.Event()
    published: list[int] = []
    errors: list[BaseException] = []

    def publish_until_stopped() -> None:
        try:
            with app.app_context(), Session(engine(), expire_on_commit=False) as session:
                enterprise_id = session.exec(select(Enterprise.id).order_by(Enterprise.id)).first()[0]
                while not stop.is_set() and len(published) < 500:
                    data = NeedCreate(
                        description=f"家具厂开料机和封边机想做设备联网，第 {len(published)} 条", industry="furniture"
                    )
                    need = publishing.publish_need(session, engine(), search_index(), enterprise_id, data).need
                    published.append(need.id)
                    if len(published) == 3:
                        started.set()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
            started.set()

    writer = threading.Thread(target=publish_until_stopped)
    writer.start()
    try:
        assert started.wait(timeout=60)
        path = tmp_path / "busy.backup"
        _backup(app, path)  # the writer is in its loop throughout: it stops only below
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors

    result = _restore(target, path)
    assert result.exit_code == 0, result.output  # the restore checks every count against the manifest
    with target.app_context():
        restored = engine()
        assert _dangling_references(restored) == []
        with restored.connect() as connection:
            needs = connection.execute(select(func.count()).select_from(models.Need)).scalar_one()
            unranked = connection.execute(
                select(func.count())
                .select_from(models.Need)
                .where(~select(models.MatchResult.id).where(models.MatchResult.need_id == models.Need.id).exists())
            ).scalar_one()
    assert needs >= 3 and unranked == 0  # each need came back with its ranking: whole transactions only
    assert _manifest(path)["tables"]["need"] == needs
