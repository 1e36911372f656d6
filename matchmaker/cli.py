"""`flask` commands: init-db, seed, create-admin."""

import click
from flask import Flask
from flask.cli import with_appcontext
from pydantic import ValidationError
from sqlmodel import Session

from matchmaker.db import engine
from matchmaker.errors import ServiceError
from models import create_tables
from models.schemas import AccountCreate, error_messages


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the tables that do not exist yet (safe to run on every start)."""
    create_tables(engine())
    click.echo("数据库表已就绪")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load the demo data from seed_data/ (idempotent)."""
    from matchmaker.seed import load_demo

    create_tables(engine())
    with Session(engine()) as session:
        report = load_demo(session)
    created = "，".join(f"{kind} {count}" for kind, count in sorted(report.created.items())) or "无新增（已是最新）"
    click.echo(f"演示数据已加载：{created}")


@click.command("demo-logins")
@with_appcontext
def demo_logins_command() -> None:
    """Print one demo login per role."""
    from matchmaker.seed import DEMO_PASSWORD, demo_logins

    with Session(engine()) as session:
        for label, email in demo_logins(session):
            click.echo(f"  {label}：{email}  密码：{DEMO_PASSWORD}")


@click.command("create-admin")
@with_appcontext
@click.option("--email", prompt="管理员邮箱")
@click.option("--name", prompt="姓名")
@click.password_option("--password", prompt="密码", confirmation_prompt="再次输入密码")
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create an administrator account."""
    from matchmaker.services import accounts

    try:
        account = AccountCreate(email=email, password=password, display_name=name)
    except ValidationError as exc:
        raise click.ClickException("；".join(error_messages(exc).values())) from exc
    create_tables(engine())
    with Session(engine()) as session:
        try:
            accounts.create_admin(session, account)
        except ServiceError as error:
            raise click.ClickException(error.message) from error
    click.echo(f"管理员 {email} 已创建")


def init_app(app: Flask) -> None:
    for command in (init_db_command, seed_command, demo_logins_command, create_admin_command):
        app.cli.add_command(command)
