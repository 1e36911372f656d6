"""The admin's API key pages, on the admin blueprint: issue a key (its token shown once), list keys
with their last use, revoke with a reason, and read one key's call log."""

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from sqlmodel import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import api_keys
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.forms import BaseForm, attach_service_error, choices
from models import ApiKey, Enterprise, Provider, ProviderStatus, Role

ROLE_LABELS = {"enterprise": "企业", "provider": "服务商", "admin": "管理员"}


class IssueKeyForm(BaseForm):
    role = SelectField("密钥角色", choices=choices(ROLE_LABELS), validators=[DataRequired()])
    enterprise_id = SelectField("所属企业（企业密钥）", validators=[Optional()])
    provider_id = SelectField("所属服务商（服务商密钥）", validators=[Optional()])
    label = StringField(
        "用途说明（如：区数字化转型公共服务平台对接）", validators=[DataRequired(message="请填写用途说明")]
    )
    reason = TextAreaField("签发理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写签发理由")])


class RevokeKeyForm(BaseForm):
    reason = TextAreaField("吊销理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写吊销理由")])


def _issue_form() -> IssueKeyForm:
    session = get_session()
    form = IssueKeyForm()
    form.enterprise_id.choices = [SelectChoice("", "（不适用）")] + [
        SelectChoice(str(e.id), e.name) for e in session.exec(select(Enterprise).order_by(Enterprise.name))
    ]
    providers = session.exec(select(Provider).where(Provider.status == ProviderStatus.approved).order_by(Provider.name))
    form.provider_id.choices = [SelectChoice("", "（不适用）")] + [SelectChoice(str(p.id), p.name) for p in providers]
    return form


def _keys_page(form: IssueKeyForm, issued: api_keys.IssuedKey | None = None, status: int = 200):
    page, per_page = requested_page()
    items, total = api_keys.keys_page(get_session(), page, per_page)
    html = render_template(
        "admin/api_keys.html",
        page=Page(items, page, per_page, total),
        form=form,
        issued=issued,
        roles=ROLE_LABELS,
    )
    response = make_response(html, status)
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"  # the token must not linger in any cache
    return response


@bp.route("/api-keys")
def api_keys_list():
    return _keys_page(_issue_form())


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value else None


@bp.route("/api-keys", methods=["POST"])
def api_key_issue():
    form = _issue_form()
    if not form.validate_on_submit():
        return _keys_page(form, status=400)
    role = Role(form.role.data)
    try:
        issued = api_keys.issue(
            get_session(),
            current_user.id,
            role,
            form.label.data,
            form.reason.data,
            enterprise_id=_int_or_none(form.enterprise_id.data) if role == Role.enterprise else None,
            provider_id=_int_or_none(form.provider_id.data) if role == Role.provider else None,
        )
    except ServiceError as error:
        get_session().rollback()
        attach_service_error(form, error)
        return _keys_page(form, status=400)
    return _keys_page(_issue_form(), issued=issued, status=201)


def _key_or_404(key_id: int) -> ApiKey:
    key = get_session().get(ApiKey, key_id)
    if key is None:
        abort(404)
    return key


@bp.route("/api-keys/<int:key_id>")
def api_key_detail(key_id: int, form: RevokeKeyForm | None = None, status: int = 200):
    key = _key_or_404(key_id)
    page, per_page = requested_page()
    calls, total = api_keys.calls_page(get_session(), key.id, page, per_page)
    html = render_template(
        "admin/api_key_detail.html",
        key=key,
        owner=api_keys.owner_name(get_session(), key),
        roles=ROLE_LABELS,
        page=Page(calls, page, per_page, total),
        form=form or RevokeKeyForm(),
    )
    return html, status


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
def api_key_revoke(key_id: int):
    _key_or_404(key_id)
    form = RevokeKeyForm()
    if form.validate_on_submit():
        try:
            key = api_keys.revoke(get_session(), key_id, current_user.id, form.reason.data)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash(f"密钥 {key.prefix} 已吊销，使用它的调用将被拒绝", "success")
            return redirect(url_for("admin.api_key_detail", key_id=key_id))
    return api_key_detail(key_id, form=form, status=400)
