"""The admin's taxonomy pages (分类体系): industries, domains and capability tags, each edit validated,
audited with a reason and picked up by every worker's search index.

Routes on `matchmaker.web.admin.bp`; edits go through `services.taxonomy`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from matchmaker.matching.search_index import taxonomy_version
from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.pagination import Page, requested_page
from matchmaker.services import taxonomy as taxonomy_service
from matchmaker.services.errors import ServiceError
from matchmaker.web.admin import bp
from matchmaker.web.forms import REQUIRED, BaseForm, attach_service_error, choices, domain_choices, submitted
from models import CapabilityTag, Domain, Industry


def _list_field(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[Optional()])


def split_list(text: str | None) -> list[str]:
    """Items separated by line breaks or commas/semicolons (、 stays: it occurs inside Chinese names)."""
    for separator in ("，", ",", "；", ";"):
        text = (text or "").replace(separator, "\n")
    return [part.strip() for part in (text or "").splitlines() if part.strip()]


REASON_LABEL = "修改理由（必填，将记入审计日志）"


class IndustryForm(BaseForm):
    code = StringField("行业代码（如 C21 或 furniture，创建后不可修改）", validators=[REQUIRED])
    name = StringField("名称", validators=[REQUIRED])
    kind = SelectField("类型", choices=choices(taxonomy_service.INDUSTRY_KINDS), validators=[REQUIRED])
    gbt = _list_field("对应国标行业大类代码（GB/T 4754-2017，用逗号或换行分隔，如 C21）")
    synonyms = _list_field("同义词（用逗号或换行分隔）")
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class DomainForm(BaseForm):
    code = StringField("领域代码（英文，创建后不可修改）", validators=[REQUIRED])
    name = StringField("名称", validators=[REQUIRED])
    description = TextAreaField("说明", validators=[Optional()])
    position = IntegerField("排序（数字小的在前）", validators=[Optional()], default=0)
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class TagForm(BaseForm):
    name = StringField("标签名称", validators=[REQUIRED])
    domain = SelectField("所属服务领域", validators=[REQUIRED])
    synonyms = _list_field("同义词（用逗号或换行分隔）")
    reason = TextAreaField(REASON_LABEL, validators=[DataRequired(message="请填写修改理由")])


class DeleteForm(BaseForm):
    reason = TextAreaField("删除理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写删除理由")])


@dataclass(frozen=True)
class Kind:
    """How one taxonomy is listed and edited."""

    label: str
    form: type[BaseForm]
    schema: type[SQLModel]
    table: type[SQLModel]
    order: tuple
    save: Callable[..., Any]
    delete: Callable[..., None]
    uses: Callable[[Session, str], dict[str, int]]
    key: Callable[[str], Any]  # URL key -> primary key

    def get(self, session: Session, key: str):
        try:
            item = session.get(self.table, self.key(key))
        except ValueError:
            item = None
        if item is None:
            abort(404)
        return item


KINDS = {
    "industries": Kind(
        "行业",
        IndustryForm,
        taxonomy_service.IndustryWrite,
        Industry,
        (col(Industry.position), col(Industry.code)),
        taxonomy_service.save_industry,
        taxonomy_service.delete_industry,
        taxonomy_service.industry_uses,
        str,
    ),
    "domains": Kind(
        "服务领域",
        DomainForm,
        taxonomy_service.DomainWrite,
        Domain,
        (col(Domain.position), col(Domain.code)),
        taxonomy_service.save_domain,
        taxonomy_service.delete_domain,
        taxonomy_service.domain_uses,
        str,
    ),
    "tags": Kind(
        "能力标签",
        TagForm,
        taxonomy_service.TagWrite,
        CapabilityTag,
        (col(CapabilityTag.domain), col(CapabilityTag.id)),
        taxonomy_service.save_tag,
        taxonomy_service.delete_tag,
        lambda session, name: taxonomy_service.tag_uses(session, name),
        int,
    ),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        abort(404)
    return KINDS[name]


@bp.route("/taxonomy")
def taxonomy_home():
    session = get_session()
    counts = {name: session.exec(select(func.count()).select_from(kind.table)).one() for name, kind in KINDS.items()}
    return render_template("admin/taxonomy.html", kinds=KINDS, counts=counts, version=taxonomy_version(session))


@bp.route("/taxonomy/<kind_name>")
def taxonomy_list(kind_name: str):
    kind = _kind(kind_name)
    session = get_session()
    query = select(kind.table).order_by(*kind.order)
    domain = request.args.get("domain") or ""
    if kind_name == "tags" and domain:
        query = query.where(CapabilityTag.domain == domain)
    page, per_page = requested_page()
    items, total = taxonomy_service.page_of(session, query, page, per_page)
    domain_names = {d.code: d.name for d in taxonomy_service.domains(session)}
    return render_template(
        "admin/taxonomy_list.html",
        kind_name=kind_name,
        kind=kind,
        page=Page(items, page, per_page, total),
        domain=domain,
        domain_names=domain_names,
        kind_labels=taxonomy_service.INDUSTRY_KINDS,
    )


def _form(kind_name: str, item: Any = None) -> BaseForm:
    kind = KINDS[kind_name]
    if request.method == "POST":
        form = kind.form()
    elif item is not None:
        values = item.model_dump()
        for name in ("gbt", "synonyms"):
            if name in values:
                values[name] = "，".join(values[name])
        form = kind.form(data=values)
    else:
        form = kind.form()
    if item is not None and hasattr(form, "code"):
        del form.code  # the code is what other rows refer to: shown, never edited
    if kind_name == "tags":
        form.domain.choices = domain_choices(get_session())
    return form


def _overrides(kind_name: str, form: BaseForm, item: Any) -> dict[str, Any]:
    """Values the schema gets besides the form's: lists split, and an edited item's fixed code."""
    values: dict[str, Any] = {}
    for name in ("gbt", "synonyms"):
        if hasattr(form, name):
            values[name] = split_list(getattr(form, name).data)
    if item is not None and kind_name in ("industries", "domains"):
        values["code"] = item.code
    if kind_name == "domains":
        values["position"] = form.position.data or 0
    return values


def _edit(kind_name: str, key: str | None):
    kind = _kind(kind_name)
    session = get_session()
    item = kind.get(session, key) if key is not None else None
    form = _form(kind_name, item)
    data = submitted(form, kind.schema, **_overrides(kind_name, form, item)) if request.method == "POST" else None
    if data is not None:
        try:
            saved = kind.save(session, current_user.id, data, form.reason.data, kind.key(key) if key else None)
        except ServiceError as error:
            session.rollback()
            attach_service_error(form, error)
        else:
            flash(f"{kind.label}“{saved.name}”已保存", "success")
            return redirect(url_for("admin.taxonomy_list", kind_name=kind_name))
    uses = kind.uses(session, item.code if kind_name != "tags" else item.name) if item is not None else {}
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/taxonomy_form.html",
        kind_name=kind_name,
        kind=kind,
        item=item,
        key=key,
        form=form,
        uses=uses,
        delete_form=DeleteForm(formdata=None),
    ), status


@bp.route("/taxonomy/<kind_name>/new", methods=["GET", "POST"])
def taxonomy_new(kind_name: str):
    return _edit(kind_name, None)


@bp.route("/taxonomy/<kind_name>/<key>", methods=["GET", "POST"])
def taxonomy_edit(kind_name: str, key: str):
    return _edit(kind_name, key)


@bp.route("/taxonomy/<kind_name>/<key>/delete", methods=["POST"])
def taxonomy_delete(kind_name: str, key: str):
    kind = _kind(kind_name)
    session = get_session()
    item = kind.get(session, key)
    form = DeleteForm()
    if form.validate_on_submit():
        name = item.name
        try:
            kind.delete(session, current_user.id, kind.key(key), form.reason.data)
        except ServiceError as error:
            session.rollback()
            flash(error.message, "error")
        else:
            flash(f"{kind.label}“{name}”已删除", "success")
            return redirect(url_for("admin.taxonomy_list", kind_name=kind_name))
    else:
        flash("请填写删除理由", "error")
    return redirect(url_for("admin.taxonomy_edit", kind_name=kind_name, key=key))
