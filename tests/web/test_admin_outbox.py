"""The admin's page of undelivered mail (#13 finding 3): failed mail listed with recipient, subject,
error, attempts and time, page by page; re-queueing asks for a reason, is audited, and puts the mail
back in the queue with its attempts reset, so the next round sends it."""

from datetime import timedelta

from sqlmodel import Session, select

from models import AuditLog, MailStatus, OutboxMail, utcnow
from tests.conftest import csrf_token

PAGE = "/admin/mail"
ERROR = "SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable"


def _mails(db: Session, n: int, status: MailStatus = MailStatus.failed) -> list[int]:
    rows = [
        OutboxMail(
            to_address=f"gone{i}@example.com",
            subject=f"对接进展通知{i}",
            body="正文",
            status=status,
            attempts=8 if status == MailStatus.failed else 0,
            last_error=ERROR if status == MailStatus.failed else "",
            next_attempt_at=utcnow() - timedelta(minutes=i),
        )
        for i in range(n)
    ]
    db.add_all(rows)
    db.commit()
    return [row.id for row in rows]


def _row(db: Session, mail_id: int) -> OutboxMail:
    query = select(OutboxMail).where(OutboxMail.id == mail_id).execution_options(populate_existing=True)
    return db.exec(query).one()


def _requeue(client, mail_id: int, reason: str):
    return client.post(
        f"/admin/mail/{mail_id}/requeue", data={"reason": reason, "csrf_token": csrf_token(client, PAGE)}
    )


def test_failed_mail_is_listed_with_its_error_and_only_failed_mail(admin_client, db):
    [failed] = _mails(db, 1)
    sent = OutboxMail(to_address="fine@example.com", subject="已送达的通知", body="正文", status=MailStatus.sent)
    db.add(sent)
    db.commit()
    _mails(db, 1, MailStatus.pending)
    html = admin_client.get(PAGE).get_data(as_text=True)
    assert "gone0@example.com" in html and "对接进展通知0" in html
    assert "550 5.1.1 mailbox unavailable" in html and "发送失败" in html
    assert f'id="mail-{failed}"' in html
    assert "fine@example.com" not in html  # sent: nothing to do
    assert html.count('<tr id="mail-') == 1  # the pending one waits for the sender, not the admin
    assert "未送达的邮件" in admin_client.get("/admin/").get_data(as_text=True)  # linked from the home page


def test_the_list_is_paged(app, admin_client, db):
    app.config["MATCHMAKER_PAGE_SIZE"] = 20
    _mails(db, 25)
    first = admin_client.get(PAGE).get_data(as_text=True)
    second = admin_client.get(PAGE + "?page=2").get_data(as_text=True)
    assert first.count('<tr id="mail-') == 20 and second.count('<tr id="mail-') == 5
    assert "共 25 条" in first
    assert "gone0@example.com" in first and "gone24@example.com" in second  # most recently tried first


def test_requeue_resets_the_mail_and_is_audited(admin_client, db):
    [mail_id] = _mails(db, 1)
    before = utcnow()
    response = _requeue(admin_client, mail_id, "收件人已更正邮箱")
    assert response.status_code == 302
    mail = _row(db, mail_id)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.pending, 0, "")
    due = mail.next_attempt_at if mail.next_attempt_at.tzinfo else mail.next_attempt_at.replace(tzinfo=before.tzinfo)
    assert due >= before - timedelta(seconds=1)  # due at once
    [entry] = db.exec(select(AuditLog).where(AuditLog.action == "mail.requeue")).all()
    assert (entry.target_type, entry.target_id, entry.reason) == ("outboxmail", mail_id, "收件人已更正邮箱")
    assert entry.actor_id is not None and entry.created_at is not None
    assert entry.detail["previous_status"] == "failed" and entry.detail["attempts"] == 8
    assert ERROR in entry.detail["last_error"]
    assert "重新发送邮件" in admin_client.get("/admin/audit").get_data(as_text=True)
    assert "gone0@example.com" not in admin_client.get(PAGE).get_data(as_text=True)


def test_requeue_without_a_reason_is_refused_and_changes_nothing(admin_client, db):
    [mail_id] = _mails(db, 1)
    response = _requeue(admin_client, mail_id, "  ")
    assert response.status_code == 400
    assert "请填写重新发送的理由" in response.get_data(as_text=True)
    mail = _row(db, mail_id)
    assert (mail.status, mail.attempts) == (MailStatus.failed, 8)
    assert db.exec(select(AuditLog).where(AuditLog.action == "mail.requeue")).all() == []


def test_only_undelivered_mail_can_be_requeued(admin_client, db):
    [pending] = _mails(db, 1, MailStatus.pending)
    [failed] = _mails(db, 1)
    response = _requeue(admin_client, pending, "再发一次")
    assert response.status_code == 400 and "当前无需重新发送" in response.get_data(as_text=True)
    assert _row(db, pending).status == MailStatus.pending
    assert _requeue(admin_client, failed, "收件人已更正邮箱").status_code == 302
    again = _requeue(admin_client, failed, "再点一次")  # a second admin, or a double click
    assert again.status_code == 400 and "当前无需重新发送" in again.get_data(as_text=True)
    assert len(db.exec(select(AuditLog).where(AuditLog.action == "mail.requeue")).all()) == 1
    assert _requeue(admin_client, 999999, "x").status_code == 404


def test_other_roles_cannot_see_or_requeue(enterprise_client, db):
    [mail_id] = _mails(db, 1)
    assert enterprise_client.get(PAGE).status_code == 403
    token = csrf_token(enterprise_client, "/")
    response = enterprise_client.post(f"/admin/mail/{mail_id}/requeue", data={"reason": "x", "csrf_token": token})
    assert response.status_code == 403
    assert _row(db, mail_id).status == MailStatus.failed


def test_an_interrupted_mail_is_listed_once_its_claim_ran_out(admin_client, db):
    [busy, stuck] = _mails(db, 2, MailStatus.sending)
    fresh = _row(db, busy)
    fresh.next_attempt_at = utcnow() + timedelta(seconds=60)  # a sender is on it right now
    db.add(fresh)
    db.commit()
    html = admin_client.get(PAGE).get_data(as_text=True)
    assert f'id="mail-{stuck}"' in html and "发送中断（可能已送达）" in html
    assert f'id="mail-{busy}"' not in html
    assert _requeue(admin_client, busy, "再发一次").status_code == 400  # not while it is being sent
    assert _row(db, busy).status == MailStatus.sending
    assert _requeue(admin_client, stuck, "收件人称未收到").status_code == 302
    assert (_row(db, stuck).status, _row(db, stuck).attempts) == (MailStatus.pending, 0)
