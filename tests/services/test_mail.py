"""The outbox sender against a real SMTP server (aiosmtpd on localhost): delivery in Chinese with
absolute links, retry with backoff while the server is down, giving up without losing the row,
and two concurrent senders never sending one mail twice."""

import email
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from matchmaker.plumbing.config import DEFAULTS
from matchmaker.services.mail import MailSettings, claim, due, install_tag, message, send_due
from matchmaker.services.notifications import notify
from models import MailStatus, OutboxMail, Role, User

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE_URL = "https://pingshan.example.org"


class Inbox:
    """aiosmtpd handler keeping every message it accepts; refuses RCPT for `refused` addresses."""

    def __init__(self, refused: frozenset[str] = frozenset()) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refused = refused
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, inbox: Inbox) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox(refused=frozenset({"nobody@example.com"}))


@pytest.fixture
def smtp(port: int, inbox: Inbox) -> Iterator[Controller]:
    controller = start_server(port, inbox)
    yield controller
    controller.stop()


def settings(port: int, **changes) -> MailSettings:
    values = dict(host="127.0.0.1", port=port, base_url=BASE_URL, max_attempts=3, backoff_seconds=60, timeout=5)
    return MailSettings(**(values | changes))


def queue(db: Session, to: str = "factory@example.com", subject: str = "对接申请已被接受", body: str = "您好") -> int:
    mail = OutboxMail(to_address=to, subject=subject, body=body, next_attempt_at=T0)
    db.add(mail)
    db.commit()
    return mail.id


def row(db: Session, mail_id: int) -> OutboxMail:
    return db.exec(select(OutboxMail).where(OutboxMail.id == mail_id).execution_options(populate_existing=True)).one()


def test_a_notification_is_mailed_in_chinese_with_an_absolute_link(db, smtp, inbox, port):
    user = User(email="vendor@example.com", password_hash="-", role=Role.provider, display_name="李经理")
    db.add(user)
    db.commit()
    notify(
        db,
        user.id,
        "need_pushed",
        "新需求推送：封边机联网",
        "一家家具小型企业发布了需求，匹配度 62%。",
        "/inbox/pushed/7",
    )
    db.commit()
    [mail] = db.exec(select(OutboxMail)).all()  # queued to go at once
    counts = send_due(db, settings(port), datetime.now(UTC) + timedelta(seconds=1))
    assert (counts.sent, counts.retrying, counts.failed) == (1, 0, 0)
    [(recipients, message)] = inbox.messages
    assert recipients == ["vendor@example.com"]
    assert message["Subject"] == "【坪山数字服务对接平台】新需求推送：封边机联网"
    assert message["From"] == "noreply@pingshan-matchmaker.local"
    text = message.get_content()
    assert "一家家具小型企业发布了需求" in text
    assert f"查看详情：{BASE_URL}/inbox/pushed/7" in text
    sent = row(db, mail.id)
    assert (sent.status, sent.attempts, sent.last_error) == (MailStatus.sent, 1, "")
    assert sent.sent_at is not None
    assert send_due(db, settings(port), T0 + timedelta(days=1)).sent == 0  # sent once only


def test_mail_not_yet_due_waits(db, smtp, inbox, port):
    queue(db)
    assert not send_due(db, settings(port), T0 - timedelta(seconds=1))
    assert inbox.messages == []
    assert send_due(db, settings(port), T0).sent == 1


def test_a_server_that_is_down_means_later_not_never(db, inbox, port):
    mail_id = queue(db, subject="验收提醒")
    first = send_due(db, settings(port), T0)  # nothing listens on the port yet
    assert (first.sent, first.retrying) == (0, 1)
    waiting = row(db, mail_id)
    assert (waiting.status, waiting.attempts) == (MailStatus.pending, 1)
    assert "Connection" in waiting.last_error or "refused" in waiting.last_error.lower()

    controller = start_server(port, inbox)
    try:
        assert not send_due(db, settings(port), T0 + timedelta(seconds=59))  # backoff: 60 s after attempt 1
        assert inbox.messages == []
        assert send_due(db, settings(port), T0 + timedelta(seconds=60)).sent == 1
    finally:
        controller.stop()
    [(_, message)] = inbox.messages
    assert message["Subject"] == "验收提醒"
    delivered = row(db, mail_id)
    assert (delivered.status, delivered.attempts, delivered.last_error) == (MailStatus.sent, 2, "")


def test_the_wait_doubles_and_the_sender_gives_up_after_the_last_attempt(db, port):
    mail_id = queue(db)
    config = settings(port, max_attempts=3)
    assert send_due(db, config, T0).retrying == 1  # attempt 1; next after 60 s
    assert send_due(db, config, T0 + timedelta(seconds=60)).retrying == 1  # attempt 2; next after 120 s
    assert not send_due(db, config, T0 + timedelta(seconds=179))
    assert send_due(db, config, T0 + timedelta(seconds=180)).failed == 1  # attempt 3 of 3
    kept = row(db, mail_id)
    assert (kept.status, kept.attempts) == (MailStatus.failed, 3)
    assert kept.last_error  # why it failed stays with the mail
    assert not send_due(db, config, T0 + timedelta(days=30))


def test_a_permanent_refusal_fails_at_once(db, smtp, inbox, port):
    refused, fine = queue(db, to="nobody@example.com"), queue(db, to="someone@example.com")
    counts = send_due(db, settings(port), T0)
    assert (counts.sent, counts.failed) == (1, 1)
    assert row(db, refused).status == MailStatus.failed and "550" in row(db, refused).last_error
    assert row(db, fine).status == MailStatus.sent
    assert [recipients for recipients, _ in inbox.messages] == [["someone@example.com"]]


def test_without_an_smtp_host_mail_stays_queued_and_says_so(app, db, caplog):
    mail_id = queue(db)
    with caplog.at_level(logging.WARNING, logger="matchmaker.services.mail"):
        counts = send_due(db, settings(0, host=""), T0)
    assert (counts.queued, counts.sent) == (1, 0)
    assert "SMTP host not configured" in caplog.text
    assert (row(db, mail_id).status, row(db, mail_id).attempts) == (MailStatus.pending, 0)
    result = app.test_cli_runner().invoke(args=["send-mail", "--loop"])
    assert result.exit_code == 0
    assert "未配置 SMTP 服务器" in result.output and "1 封邮件保留待发" in result.output


def test_the_send_mail_command_delivers(app, db, smtp, inbox, port):
    queue(db)
    app.config.update(MATCHMAKER_SMTP_HOST="127.0.0.1", MATCHMAKER_SMTP_PORT=port)
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert "已发送 1" in result.output and len(inbox.messages) == 1


def test_a_claim_taken_by_another_sender_is_lost(db):
    mail_id = queue(db)
    [(read_id, attempts)] = due(db, T0)
    with Session(db.get_bind()) as other:
        assert claim(other, mail_id, attempts, T0, settings(0))
    assert read_id == mail_id and not claim(db, mail_id, attempts, T0, settings(0))
    assert row(db, mail_id).attempts == 1


def test_two_senders_at_once_send_every_mail_exactly_once(db, smtp, inbox, port):
    """Two workers' loops on one outbox: whatever the interleaving, no mail goes twice."""
    ids = [queue(db, to=f"user{i}@example.com", subject=f"通知{i}") for i in range(30)]
    db_engine = db.get_bind()
    start = threading.Barrier(2)
    results = []

    def sender() -> None:
        with Session(db_engine, expire_on_commit=False) as session:
            start.wait()
            results.append(send_due(session, settings(port), T0))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subjects = sorted(message["Subject"] for _, message in inbox.messages)
    assert subjects == sorted(f"通知{i}" for i in range(30))  # every one, none twice
    assert len(results) == 2 and sum(r.sent for r in results) == 30
    assert {row(db, i).status for i in ids} == {MailStatus.sent}
    assert {row(db, i).attempts for i in ids} == {1}


def test_a_web_process_starts_its_sender_thread_on_the_first_request(app, db, smtp, inbox, port):
    mail_id = queue(db)
    app.config.update(MATCHMAKER_SMTP_HOST="127.0.0.1", MATCHMAKER_SMTP_PORT=port, MATCHMAKER_MAIL_INTERVAL=3600)
    sender = app.extensions["outbox_thread"]
    assert not sender.running  # creating the app started nothing
    app.test_client().get("/")
    app.test_client().get("/")
    try:
        assert sender.running
    finally:
        sender.stop()  # the thread sends once on start, then waits: after the join that round is done
    assert [m["Subject"] for _, m in inbox.messages] == ["对接申请已被接受"]
    assert row(db, mail_id).status == MailStatus.sent


def test_without_an_smtp_host_no_thread_starts_and_the_log_says_why(app, caplog):
    with caplog.at_level(logging.WARNING):
        app.test_client().get("/")
    assert not app.extensions["outbox_thread"].running
    assert "MATCHMAKER_SMTP_HOST is not set, so emails stay queued" in caplog.text


def test_a_mail_that_cannot_be_built_is_failed_and_the_round_goes_on(app, db):
    """A bad address (a line break in a header) fails that mail alone; the next one is still tried."""
    from matchmaker.services import mail as outbox
    from models import MailStatus, OutboxMail, utcnow

    bad = OutboxMail(to_address="a@example.com\r\nBcc: x@evil.example", subject="标题", body="正文")
    good = OutboxMail(to_address="b@example.com", subject="第一行\r\n第二行", body="正文")
    db.add_all([bad, good])
    db.commit()
    settings = outbox.MailSettings(host="127.0.0.1", port=1, timeout=0.5)  # nothing listens: good retries
    counts = outbox.send_due(db, settings, utcnow())
    db.refresh(bad)
    db.refresh(good)
    assert bad.status == MailStatus.failed and "Error" in bad.last_error
    assert good.status == MailStatus.pending and good.attempts == 1
    assert counts.failed == 1 and counts.retrying == 1
    assert outbox.message(good, settings)["Subject"] == "第一行 第二行"


def test_every_copy_of_a_mail_is_the_same_message_and_installs_do_not_share_ids(db, port):
    """The Message-ID and Date come from the row, not from the moment of sending: a retry or a re-queue
    carries the same ones. Another installation (another SECRET_KEY) or another row has another id."""
    first_id, second_id = queue(db), queue(db)
    mail, other = row(db, first_id), row(db, second_id)
    here = MailSettings.from_config(
        {**{key: value for key, value in DEFAULTS.items() if key.startswith("MATCHMAKER_")}, "SECRET_KEY": "a"}
    )
    elsewhere = settings(port, install=install_tag("b"))
    built = message(mail, here)
    assert built["Message-ID"] == message(row(db, first_id), here)["Message-ID"]  # built again later
    assert built["Date"] == message(row(db, first_id), here)["Date"]
    assert built["Message-ID"] != message(other, here)["Message-ID"]
    assert built["Message-ID"] != message(mail, elsewhere)["Message-ID"]
    assert len(install_tag("a")) == 16 and install_tag("a") == install_tag("a")


def test_a_retry_after_a_temporary_failure_carries_the_same_message_id(db, inbox, port):
    mail_id = queue(db)
    assert send_due(db, settings(port), T0).retrying == 1  # nothing listens yet
    controller = start_server(port, inbox)
    try:
        assert send_due(db, settings(port), T0 + timedelta(minutes=5)).sent == 1
    finally:
        controller.stop()
    [(_, received)] = inbox.messages
    assert received["Message-ID"].strip() == message(row(db, mail_id), settings(port))["Message-ID"]
    assert received["Date"] == message(row(db, mail_id), settings(port))["Date"]
    assert "outbox." in received["Message-ID"]


def test_a_claimed_mail_is_sending_until_its_answer_is_recorded(db):
    mail_id = queue(db)
    [(read_id, attempts)] = due(db, T0)
    assert claim(db, read_id, attempts, T0, settings(0))
    assert (row(db, mail_id).status, row(db, mail_id).attempts) == (MailStatus.sending, 1)
    assert due(db, T0 + timedelta(days=1)) == []  # never picked up again by a sender on its own
