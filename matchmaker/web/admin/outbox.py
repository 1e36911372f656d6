"""The admin's outbox page, on the admin blueprint: undelivered mail with its error, and a re-queue
button that asks for a reason (audited)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import outbox_review
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.forms import BaseForm
from models import OutboxMail, utcnow

STATUS_LABELS = {"pending": "待发送", "sending": "发送中断（可能已送达）", "sent": "已发送", "failed": "发送失败"}


class RequeueForm(BaseForm):
    reason = TextAreaField(
        "重新发送理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写重新发送的理由")]
    )


def _page(form: RequeueForm | None = None, failed_id: int | None = None, status: int = 200):
    page, per_page = requested_page()
    items, total = outbox_review.attention_page(get_session(), page, per_page, utcnow())
    html = render_template(
        "admin/outbox.html",
        page=Page(items, page, per_page, total),
        form=form or RequeueForm(),
        failed_id=failed_id,
        labels=STATUS_LABELS,
    )
    return html, status


@bp.route("/mail")
def outbox_list():
    return _page()


@bp.route("/mail/<int:mail_id>/requeue", methods=["POST"])
def outbox_requeue(mail_id: int):
    session = get_session()
    if session.get(OutboxMail, mail_id) is None:
        abort(404)
    form = RequeueForm()
    if form.validate_on_submit():
        try:
            done = outbox_review.requeue(session, mail_id, current_user.id, form.reason.data, utcnow())
        except ServiceError as error:
            session.rollback()
            flash(error.message, "error")
        else:
            flash(f"发往 {done.mail.to_address} 的邮件已重新排队，将在下一轮发送", "success")
            return redirect(url_for("admin.outbox_list"))
    return _page(form, failed_id=mail_id, status=400)
