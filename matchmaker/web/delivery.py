"""The Flask side of precise push and the email outbox: the push settings of a need's publish, the
hooks the role blueprints call after a solution or listing has been committed, the outbox sender
thread of each web process, and `flask send-mail`.

A hook never raises: the user's solution is already saved, and a failing push (database error, bad
configuration, a bug) is logged and rolled back rather than turned into an error page. A need's push
is part of its publish (services/publishing.py), and fails in the same quiet way.

Mail delivery. Each web process (gunicorn worker) starts one daemon thread on its first request
when MATCHMAKER_SMTP_HOST is set; it sends the due outbox mail every MATCHMAKER_MAIL_INTERVAL
seconds. So `make run`, or any plain `gunicorn wsgi:app`, delivers mail with no second service to
run and stop, and the thread lives and dies with its worker. Several workers polling one outbox is
safe: each mail is claimed by exactly one of them (services/mail.py). Set MATCHMAKER_MAIL_INTERVAL=0
to run `flask send-mail --loop` as a separate service instead. Without an SMTP host no thread
starts and each process logs once that mail stays queued.
"""

import os
import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlmodel import Session, select

from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import mail, push
from models import Provider, ProviderStatus, Solution, SolutionStatus, utcnow


def push_caps() -> push.PushCaps | None:
    """The push settings for a need being published (services/publishing.py pushes it in the publish's
    transaction), or None, logged, when they are broken: the need is then published without a push."""
    try:
        return push.PushCaps.from_config(current_app.config)
    except Exception:  # noqa: BLE001 - a bad setting must not stop enterprises from publishing
        current_app.logger.exception("precise push settings are invalid; needs are published without push")
        return None


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


def push_after_listing(provider_id: int) -> None:
    """A provider (re)entered the whitelist: its published solutions are news to open needs."""
    session = get_session()
    provider = session.get(Provider, provider_id)
    if provider is None or provider.status != ProviderStatus.approved:
        return
    published = session.exec(
        select(Solution.id).where(Solution.provider_id == provider_id, Solution.status == SolutionStatus.published)
    ).all()
    for solution_id in published:
        push_after_solution(solution_id)


class OutboxThread:
    """The per-process outbox sender (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process that started (or declined to start) the thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def ensure_started(self) -> None:
        """Start the thread once per process (a forked worker starts its own); cheap when done."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            settings = mail.MailSettings.from_config(self._app.config)
            interval = float(self._app.config["MATCHMAKER_MAIL_INTERVAL"])
            if not settings.host:
                self._app.logger.warning(
                    "outbox: MATCHMAKER_SMTP_HOST is not set, so emails stay queued (flask send-mail sends them later)"
                )
                return
            if interval <= 0:
                return  # a separate `flask send-mail --loop` delivers
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, args=(settings, interval), name="outbox-sender", daemon=True
            )
            self._thread.start()

    def tick(self, settings: mail.MailSettings) -> mail.MailCounts:
        """One round: send what is due now."""
        with self._app.app_context(), Session(engine(), expire_on_commit=False) as session:
            return mail.send_due(session, settings, utcnow())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, settings: mail.MailSettings, interval: float) -> None:
        while True:
            try:
                counts = self.tick(settings)
                if counts:
                    self._app.logger.info("outbox: %s", counts)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sender for good
                self._app.logger.exception("outbox: sending failed; trying again in %s s", interval)
            if self._stop.wait(interval):
                return


def _start_outbox_thread() -> None:
    current_app.extensions["outbox_thread"].ensure_started()


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
    app.extensions["outbox_thread"] = OutboxThread(app)
    app.before_request(_start_outbox_thread)
