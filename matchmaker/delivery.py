"""The Flask side of precise push and the email outbox: the hooks the role blueprints call after a
publish has been committed, and the `flask send-mail` command.

A hook never raises: the user's need or solution is already saved, and a failing push (database
error, bad configuration, a bug) is logged and rolled back rather than turned into an error page.
"""

import signal
import threading
from collections.abc import Sequence

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlmodel import Session

from matchmaker.db import engine, get_session
from matchmaker.search import search_index
from matchmaker.services import mail, push
from models import MatchResult, Need, Solution, utcnow


def push_after_need(need: Need, results: Sequence[MatchResult]) -> None:
    """Push a just-published need to the providers of its best matches (see services/push.py)."""
    session = get_session()
    try:
        push.push_need(session, need, results, utcnow(), push.PushCaps.from_config(current_app.config))
    except Exception:  # noqa: BLE001 - the publish is committed; a push must not undo or hide it
        session.rollback()
        current_app.logger.exception("precise push of need %s failed; the need stays published", need.id)


def push_after_solution(solution_id: int) -> None:
    """Tell enterprises about a just-published (or edited, still published) solution."""
    session = get_session()
    try:
        solution = session.get(Solution, solution_id)
        if solution is not None:
            caps = push.PushCaps.from_config(current_app.config)
            push.push_solution(session, engine(), search_index(), solution, utcnow(), caps)
    except Exception:  # noqa: BLE001 - as above
        session.rollback()
        current_app.logger.exception("precise push of solution %s failed; the solution stays saved", solution_id)


def _report(counts: mail.MailCounts) -> str:
    return f"发件箱：已发送 {counts.sent}，稍后重试 {counts.retrying}，放弃 {counts.failed}" + (
        f"，已被其他发送进程处理 {counts.taken}" if counts.taken else ""
    )


@click.command("send-mail")
@click.option("--loop", is_flag=True, help="keep sending every --interval seconds until stopped (SIGTERM / Ctrl+C)")
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(min=0.5))
@with_appcontext
def send_mail_command(loop: bool, interval: float) -> None:
    """Send the due emails of the outbox by SMTP (MATCHMAKER_SMTP_*); failures are retried later.

    Without MATCHMAKER_SMTP_HOST nothing is sent: the mails stay queued and the command says so and
    ends (also with --loop: the setting is read once, so there is nothing to wait for).
    """
    settings = mail.MailSettings.from_config(current_app.config)
    if not settings.host:
        with Session(engine()) as session:
            queued = mail.pending_count(session)
        click.echo(
            f"未配置 SMTP 服务器（MATCHMAKER_SMTP_HOST）：发件箱中 {queued} 封邮件保留待发，"
            "配置后运行 flask send-mail 发送",
            err=True,
        )
        return
    stop = threading.Event()
    if loop:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        click.echo(f"邮件发送进程已启动：{settings.host}:{settings.port}，每 {interval:g} 秒检查一次发件箱")
    try:
        while True:
            with Session(engine(), expire_on_commit=False) as session:
                counts = mail.send_due(session, settings, utcnow())
            if counts or not loop:
                click.echo(_report(counts))
            if not loop or stop.wait(interval):
                break
    except KeyboardInterrupt:
        pass


def init_app(app: Flask) -> None:
    app.cli.add_command(send_mail_command)
