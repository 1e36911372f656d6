"""消息中心: every signed-in user's notifications, and for providers the needs pushed to them (精准推送).

Pushed needs are shown from `push.PushedNeed` (push record, need, own solution): the enterprise's
name and contact details are never loaded for these pages.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.extensions import login_manager
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import notifications, push
from matchmaker.services.errors import ServiceError
from matchmaker.web.forms import ConfirmForm

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.before_request
def _require_login():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.app_context_processor
def _unread_count() -> dict:
    """`inbox_unread` for the navigation bar: one count query per page for a signed-in user.

    Every page renders it, error pages too: after a failed transaction (the very reason for a 500
    page) the count is left out rather than turning the Chinese error page into a second failure.
    """
    if not current_user.is_authenticated:
        return {"inbox_unread": 0}
    try:
        return {"inbox_unread": notifications.unread_count(get_session(), current_user.id)}
    except SQLAlchemyError:
        return {"inbox_unread": 0}


def _safe_link(link: str) -> str | None:
    """Only same-site paths are followed from a notification."""
    return link if link.startswith("/") and not link.startswith("//") else None


@bp.route("/")
def index():
    page, per_page = requested_page()
    items, total = notifications.page(get_session(), current_user.id, page, per_page)
    return render_template("inbox/index.html", page=Page(items, page, per_page, total), form=ConfirmForm())


def _own_or_404(note_id: int):
    try:
        return notifications.own(get_session(), current_user.id, note_id)
    except ServiceError:
        abort(404)


@bp.route("/<int:note_id>/read", methods=["POST"])
def read(note_id: int):
    _own_or_404(note_id)
    if ConfirmForm().validate_on_submit():
        notifications.mark_read(get_session(), current_user.id, note_id)
    return redirect(url_for("inbox.index", page=request.args.get("page", type=int) or None))


@bp.route("/<int:note_id>/open", methods=["POST"])
def open_note(note_id: int):
    """Mark the notification read and go where it points."""
    note = _own_or_404(note_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("inbox.index"))
    notifications.mark_read(get_session(), current_user.id, note_id)
    return redirect(_safe_link(note.link) or url_for("inbox.index"))


@bp.route("/read-all", methods=["POST"])
def read_all():
    if ConfirmForm().validate_on_submit():
        count = notifications.mark_all_read(get_session(), current_user.id)
        flash(f"已将 {count} 条消息标为已读" if count else "没有未读消息", "success")
    return redirect(url_for("inbox.index"))


def _provider_id() -> int:
    if current_user.role != "provider" or current_user.org_id is None:
        abort(403)
    return current_user.org_id


@bp.route("/pushed")
def pushed():
    provider_id = _provider_id()
    page, per_page = requested_page()
    items, total = push.pushed_needs_page(get_session(), provider_id, page, per_page)
    return render_template("inbox/pushed.html", page=Page(items, page, per_page, total))


@bp.route("/pushed/<int:record_id>")
def pushed_detail(record_id: int):
    provider_id = _provider_id()
    try:
        item = push.pushed_need(get_session(), provider_id, record_id)
    except ServiceError:
        abort(404)
    return render_template("inbox/pushed_detail.html", item=item)
