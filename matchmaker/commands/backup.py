"""`flask backup PATH` and `flask restore PATH`: one archive holding a consistent copy of the database
and a manifest that says what is in it.

- SQLite: sqlite3's online backup API copies the live file page by page (readers and writers carry on).
- PostgreSQL: `pg_dump --format=custom` run on a snapshot exported from a REPEATABLE READ transaction, so
  the dump and the manifest's row counts describe the same instant while the platform keeps running.

The archive (tar) holds `manifest.json` (format, created_at, dialect, every table with its row count,
the encoder setting and the stored vectors per model, the change counter, the dump's SHA-256) and the
dump. The search index is not in it: each worker rebuilds it from the stored vectors, so after a restore
the application is restarted (`kill -HUP` the gunicorn master) and builds its indexes from the restored rows.

A restore refuses a target that holds data unless `--force`, refuses a dump of the other database
kind, checks the dump's hash before touching anything, and afterwards checks every table's row count
against the manifest.
"""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from matchmaker.plumbing.db import engine

FORMAT = 1
MANIFEST = "manifest.json"
DUMPS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
# Tables whose rows a fresh `flask db upgrade` creates: they do not make a target "non-empty".
BOOKKEEPING = {"changecounter", "alembic_version"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; `message` is for the operator (Chinese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Manifest:
    format: int
    created_at: str
    dialect: str
    dump: str
    dump_sha256: str
    tables: dict[str, int]  # table -> row count
    encoder: str  # MATCHMAKER_ENCODER when the backup was made
    vector_models: dict[str, int]  # stored solution vectors per encoder model
    change_counter: int | None


# --- backup ----------------------------------------------------------------------------------------


def create_backup(db: Engine, path: Path, encoder: str) -> Manifest:
    """Write the archive to `path` (via a temporary file beside it, so a failed run leaves no half archive)."""
    dialect = db.dialect.name
    if dialect not in DUMPS:
        raise BackupError(f"不支持备份 {dialect} 数据库")
    with tempfile.TemporaryDirectory() as folder:
        dump = Path(folder) / DUMPS[dialect]
        if dialect == "sqlite":
            facts = _backup_sqlite(db, dump)
        else:
            facts = _backup_postgres(db, dump)
        manifest = Manifest(
            format=FORMAT,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            dialect=dialect,
            dump=dump.name,
            dump_sha256=_sha256(dump),
            encoder=encoder,
            **facts,
        )
        partial = path.with_name(path.name + ".partial")
        with tarfile.open(partial, "w") as archive:
            body = json.dumps(asdict(manifest), ensure_ascii=False, indent=2).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(body), int(datetime.now(UTC).timestamp())
            archive.addfile(info, io.BytesIO(body))
            archive.add(dump, arcname=dump.name)
        os.replace(partial, path)
    return manifest


def _backup_sqlite(db: Engine, dump: Path) -> dict:
    source = db.raw_connection()
    try:
        target = sqlite3.connect(dump)
        try:
            source.driver_connection.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    # The facts come from the copy itself, so they describe exactly what the archive holds.
    copy = sqlite3.connect(dump)
    try:
        names = [row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {
            name: copy.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for name in sorted(names)
            if not name.startswith("sqlite_")
        }
        vectors, counter = {}, None
        if "solutionvector" in tables:
            vectors = dict(copy.execute("SELECT model, count(*) FROM solutionvector GROUP BY model").fetchall())
        if "changecounter" in tables:
            row = copy.execute("SELECT value FROM changecounter WHERE id = 1").fetchone()
            counter = row[0] if row else None
    finally:
        copy.close()
    return {"tables": tables, "vector_models": vectors, "change_counter": counter}


def _backup_postgres(db: Engine, dump: Path) -> dict:
    _require_tool("pg_dump")
    with db.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        facts = _facts(connection)  # same snapshot as the dump below
        _run(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", "--dbname", _libpq_url(db)],
            db,
        )
    return facts


def _facts(connection: Connection) -> dict:
    tables = _counts(connection)
    vectors, counter = {}, None
    if "solutionvector" in tables:
        rows = connection.execute(text("SELECT model, count(*) FROM solutionvector GROUP BY model"))
        vectors = {model: count for model, count in rows}
    if "changecounter" in tables:
        counter = connection.execute(text("SELECT value FROM changecounter WHERE id = 1")).scalar()
    return {"tables": tables, "vector_models": vectors, "change_counter": counter}


def _counts(connection: Connection) -> dict[str, int]:
    names = sorted(inspect(connection).get_table_names())
    return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


# --- restore ---------------------------------------------------------------------------------------


def read_manifest(path: Path) -> Manifest:
    try:
        with tarfile.open(path, "r") as archive:
            member = archive.extractfile(MANIFEST)
            data = json.loads(member.read().decode("utf-8")) if member else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise BackupError(f"不是有效的备份文件：{path}（{error}）") from error
    if not data or data.get("format") != FORMAT:
        raise BackupError(f"备份文件格式不受支持：{path}")
    return Manifest(**data)


def restore_backup(db: Engine, path: Path, force: bool = False) -> Manifest:
    """Replace the target database's content with the archive's; check every table's count after."""
    manifest = read_manifest(path)
    dialect = db.dialect.name
    if manifest.dialect != dialect:
        raise BackupError(f"备份来自 {manifest.dialect} 数据库，不能恢复到 {dialect} 数据库")
    with db.connect() as connection:
        holding = {name: n for name, n in _counts(connection).items() if n and name not in BOOKKEEPING}
    if holding and not force:
        listed = "、".join(f"{name}（{n} 行）" for name, n in sorted(holding.items())[:5])
        raise BackupError(f"目标数据库已有数据：{listed} 等；确认要覆盖请加 --force")
    with tempfile.TemporaryDirectory() as folder:
        dump = Path(folder) / manifest.dump
        with tarfile.open(path, "r") as archive:
            member = archive.extractfile(manifest.dump)
            if member is None:
                raise BackupError(f"备份文件缺少数据库部分：{manifest.dump}")
            with dump.open("wb") as out:
                shutil.copyfileobj(member, out)
        if _sha256(dump) != manifest.dump_sha256:
            raise BackupError("备份文件已损坏：数据库部分的校验值与清单不符，未做任何更改")
        db.dispose()  # no pooled connection of ours holds the old tables
        if dialect == "sqlite":
            _restore_sqlite(db, dump)
        else:
            _restore_postgres(db, dump)
    db.dispose()
    with db.connect() as connection:
        found = _counts(connection)
    wrong = {name: (n, found.get(name)) for name, n in manifest.tables.items() if found.get(name) != n}
    if wrong:
        detail = "、".join(f"{name} 应为 {n} 行，实为 {got}" for name, (n, got) in sorted(wrong.items()))
        raise BackupError(f"恢复后核对行数不一致：{detail}")
    return manifest


def _restore_sqlite(db: Engine, dump: Path) -> None:
    target_path = db.url.database
    if not target_path or target_path == ":memory:":
        raise BackupError("SQLite 目标必须是数据库文件")
    source = sqlite3.connect(dump)
    try:
        target = sqlite3.connect(target_path, timeout=30)
        try:
            source.backup(target)  # replaces every page of the target in one step
        finally:
            target.close()
    finally:
        source.close()


def _restore_postgres(db: Engine, dump: Path) -> None:
    _require_tool("pg_restore")
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction"]
    command += ["--exit-on-error", "--dbname", _libpq_url(db), str(dump)]
    _run(command, db)  # one transaction: on any error the target is left as it was


# --- helpers ---------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _libpq_url(db: Engine) -> str:
    """The database URL for libpq tools, without the password (passed in PGPASSWORD, not on the command line)."""
    return db.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _require_tool(name: str) -> None:
    if shutil.which(name) is None:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端（与服务器同一主版本）")


def _run(command: list[str], db: Engine) -> None:
    env = dict(os.environ)
    if db.url.password:
        env["PGPASSWORD"] = str(db.url.password)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} 失败（退出码 {result.returncode}）：{result.stderr.strip()[-2000:]}")


# --- commands --------------------------------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write a consistent backup of the database (online; the platform may keep running) to PATH."""
    try:
        manifest = create_backup(engine(), path, current_app.config["MATCHMAKER_ENCODER"])
    except BackupError as error:
        raise click.ClickException(error.message) from error
    rows = sum(manifest.tables.values())
    click.echo(f"备份完成：{path}（{manifest.dialect}，{len(manifest.tables)} 张表，共 {rows} 行）")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="overwrite a database that already holds data")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    """Restore the database from a backup made by `flask backup`, then check every table's row count."""
    try:
        manifest = restore_backup(engine(), path, force)
    except BackupError as error:
        raise click.ClickException(error.message) from error
    rows = sum(manifest.tables.values())
    click.echo(f"恢复完成：{len(manifest.tables)} 张表、{rows} 行与备份清单一致（备份时间 {manifest.created_at}）")
    click.echo("请重启应用（向 gunicorn 主进程发送 HUP），各进程将按恢复后的数据重建搜索索引")


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
