"""The admin's account pages (账号管理), on the admin blueprint: list and search accounts, and on one
account disable, enable or force a password reset, each with a reason (services/account_admin.py)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import account_admin
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.admin.api_keys import ROLE_LABELS
from matchmaker.web.auth import reset_lifetime
from matchmaker.web.forms import BaseForm, attach_service_error
from models import User


class ReasonForm(BaseForm):
    reason = TextAreaField("理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写理由")])


ACTIONS = {
    # action: (service call, message on success)
    "disable": (account_admin.disable, "账号已停用，它的所有登录已退出"),
    "enable": (account_admin.enable, "账号已启用"),
    "force-reset": (
        lambda session, admin_id, user_id, reason: account_admin.force_reset(
            session, admin_id, user_id, reason, reset_lifetime()
        ),
        "原密码已失效，重置密码的邮件已发往该账号的邮箱",
    ),
}


@bp.route("/accounts")
def accounts_list():
    query = request.args.get("q", "")[: account_admin.QUERY_MAX]
    role = request.args.get("role") or None
    page, per_page = requested_page()
    users, total = account_admin.accounts_page(get_session(), query, role, page, per_page)
    return render_template(
        "admin/accounts.html", page=Page(users, page, per_page, total), q=query, role=role, roles=ROLE_LABELS
    )


def _user_or_404(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/accounts/<int:user_id>")
def account_detail(
    user_id: int, forms: dict[str, ReasonForm] | None = None, status: int = 200, refusal: str | None = None
):
    user = _user_or_404(user_id)
    forms = forms or {}
    return render_template(
        "admin/account_detail.html",
        user=user,
        roles=ROLE_LABELS,
        forms={action: forms.get(action) or ReasonForm(prefix=action) for action in ACTIONS},
        history=account_admin.history(get_session(), user.id),
        is_self=user.id == current_user.id,
        refusal=refusal,
    ), status


def _act(user_id: int, action: str):
    _user_or_404(user_id)
    call, done = ACTIONS[action]
    form = ReasonForm(prefix=action)
    refusal = None
    if form.validate_on_submit():
        try:
            call(get_session(), current_user.id, user_id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            if error.field:
                attach_service_error(form, error)
            else:  # about the account's state: shown above the forms (this one may not be shown now)
                refusal = error.message
        else:
            flash(done, "success")
            return redirect(url_for("admin.account_detail", user_id=user_id))
    return account_detail(user_id, forms={action: form}, status=400, refusal=refusal)


@bp.route("/accounts/<int:user_id>/disable", methods=["POST"])
def account_disable(user_id: int):
    return _act(user_id, "disable")


@bp.route("/accounts/<int:user_id>/enable", methods=["POST"])
def account_enable(user_id: int):
    return _act(user_id, "enable")


@bp.route("/accounts/<int:user_id>/force-reset", methods=["POST"])
def account_force_reset(user_id: int):
    return _act(user_id, "force-reset")
