"""`flask create-api-key`: issue a key from the shell (scripts, a contract run by hand), audited like
one issued on the admin page, in the name of an existing administrator."""

import click
from flask.cli import with_appcontext
from sqlalchemy import func
from sqlmodel import Session, select

from matchmaker.plumbing.db import engine
from matchmaker.services import api_keys
from matchmaker.services.errors import ServiceError
from models import Enterprise, Provider, Role, User


def _user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()


@click.command("create-api-key")
@with_appcontext
@click.option("--admin-email", required=True, help="签发人（管理员）的登录邮箱")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True, help="密钥角色")
@click.option("--owner-email", default="", help="企业或服务商账号的登录邮箱（角色为 enterprise 或 provider 时必填）")
@click.option("--label", required=True, help="用途说明")
@click.option("--reason", required=True, help="签发理由（记入审计日志）")
def create_api_key_command(admin_email: str, role: str, owner_email: str, label: str, reason: str) -> None:
    """Issue an API key and print it (it is shown only this once)."""
    with Session(engine(), expire_on_commit=False) as session:
        admin = _user(session, admin_email)
        if admin is None or admin.role != Role.admin:
            raise click.ClickException(f"没有该管理员账号：{admin_email}")
        owner: dict[str, int] = {}
        if role in (Role.enterprise, Role.provider):
            table = Enterprise if role == Role.enterprise else Provider
            user = _user(session, owner_email) if owner_email else None
            org_id = session.exec(select(table.id).where(table.user_id == user.id)).first() if user else None
            if org_id is None:
                kind = "企业" if role == Role.enterprise else "服务商"
                raise click.ClickException(f"没有该{kind}账号：{owner_email or '（未填写 --owner-email）'}")
            owner = {f"{role}_id": org_id}
        try:
            issued = api_keys.issue(session, admin.id, Role(role), label, reason, **owner)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(f"密钥 {issued.key.prefix} 已签发（只显示这一次）：")
    click.echo(issued.token)
