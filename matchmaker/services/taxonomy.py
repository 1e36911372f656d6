"""The taxonomies kept in the database: reading, checking codes, and the admin's edits.

Domains, industries and capability tags are data, not code: an admin adds and edits them on the
docking service centre's pages. Every edit is validated (unique names and codes, no word standing for
two items), refused when it would break rows that use the item, audited with a reason, and bumps the
taxonomy version so that every worker's search index reloads the taxonomy on its next request.
"""

import re
from collections.abc import Iterable

from pydantic import field_validator
from sqlalchemy import exists, func
from sqlmodel import Field, Session, SQLModel, select

from matchmaker.matching.search_index import TAXONOMY_COUNTER
from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from matchmaker.services.stats import json_values
from models import CapabilityTag, Domain, Enterprise, Industry, Need, Provider, Solution, SuccessCase
from models.schemas import CleanList


def domains(session: Session) -> list[Domain]:
    return list(session.exec(select(Domain).order_by(Domain.position)))


def industries(session: Session) -> list[Industry]:
    return list(session.exec(select(Industry).order_by(Industry.position)))


def tags(session: Session) -> list[CapabilityTag]:
    return list(session.exec(select(CapabilityTag).order_by(CapabilityTag.domain, CapabilityTag.id)))


def _require_known(label: str, given: Iterable[str], known: set[str]) -> None:
    unknown = [value for value in given if value not in known]
    if unknown:
        raise ServiceError(f"未知的{label}：{'、'.join(unknown)}")


def check_codes(
    session: Session,
    *,
    industries: Iterable[str] = (),
    domains: Iterable[str] = (),
    tags: Iterable[str] = (),
) -> None:
    """Raise ServiceError naming any code that is not in the taxonomy."""
    industries, domains, tags = list(industries), list(domains), list(tags)
    if industries:
        _require_known("行业", industries, set(session.exec(select(Industry.code))))
    if domains:
        _require_known("服务领域", domains, set(session.exec(select(Domain.code))))
    if tags:
        _require_known("能力标签", tags, set(session.exec(select(CapabilityTag.name))))


# --- editing: validated, audited, never breaking what uses an item ----------------------------------

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_GBT_CODE = re.compile(r"^[A-T]\d{2}$")
INDUSTRY_KINDS = {"division": "国民经济行业大类（GB/T 4754）", "cluster": "坪山重点产业集群", "general": "通用"}


class IndustryWrite(SQLModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    kind: str
    gbt: CleanList = Field(default_factory=list, max_length=30)
    synonyms: CleanList = Field(default_factory=list, max_length=50)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        return _checked_code(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in INDUSTRY_KINDS:
            raise ValueError("类型只能是 国民经济行业大类、重点产业集群 或 通用")
        return value

    @field_validator("gbt")
    @classmethod
    def _gbt(cls, value: list[str]) -> list[str]:
        codes = [code.upper() for code in value]
        bad = [code for code in codes if not _GBT_CODE.match(code)]
        if bad:
            raise ValueError(f"国标行业代码应为门类字母加两位大类数字（如 C21）：{'、'.join(bad)}")
        return codes


class DomainWrite(SQLModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=1000)
    position: int = Field(default=0, ge=0, le=999)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        return _checked_code(value)


class TagWrite(SQLModel):
    name: str = Field(min_length=1, max_length=60)
    domain: str = Field(min_length=1, max_length=40)
    synonyms: CleanList = Field(default_factory=list, max_length=50)


def _checked_code(value: str) -> str:
    value = value.strip()
    if not _CODE.match(value):
        raise ValueError("代码须以英文字母开头，只含英文字母、数字和下划线，最长40位")
    return value


def _require_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ServiceError("请填写修改理由（将记入审计日志）", field="reason")
    return reason


def _folded(values: Iterable[str]) -> set[str]:
    return {value.strip().lower() for value in values}


def _check_terms(
    label: str, name: str, synonyms: list[str], others: Iterable[tuple[str, str, list[str]]], old: tuple[str, list[str]]
) -> None:
    """A new name must not be another item's name or synonym, a new synonym not another item's name:
    either would make one word stand for two items. `others` are (key, name, synonyms) of the other
    items; `old` the item's name and synonyms before this edit (what was there already is kept)."""
    others = list(others)
    if name.lower() != old[0].lower():
        for _, other_name, other_synonyms in others:
            if name.lower() == other_name.lower():
                raise ServiceError(f"名称“{name}”已被其他{label}使用", field="name")
            if name.lower() in _folded(other_synonyms):
                raise ServiceError(f"名称“{name}”已是{label}“{other_name}”的同义词", field="name")
    added = [s for s in synonyms if s.lower() not in _folded(old[1])]
    names = {other_name.lower(): other_name for _, other_name, _ in others}
    clashes = [f"“{s}”（{label}“{names[s.lower()]}”的名称）" for s in added if s.lower() in names]
    if clashes:
        raise ServiceError(f"同义词不能与其他{label}的名称相同：{'、'.join(clashes)}", field="synonyms")


def _in_use_message(label: str, name: str, uses: dict[str, int], advice: str) -> str:
    counts = "、".join(f"{count}{what}" for what, count in uses.items() if count)
    return f"{label}“{name}”正被{counts}使用，不能删除：删除后这些记录会指向不存在的{label}。{advice}"


def _count(session: Session, query) -> int:
    return session.exec(select(func.count()).select_from(query.subquery())).one()


def _json_holding(session: Session, table, column, value: str):
    """Rows of `table` whose JSON list `column` contains `value`."""
    values = json_values(session, column)
    return select(table.id).where(exists(select(values.c.value).where(values.c.value == value)))


# industries


def industry_uses(session: Session, code: str) -> dict[str, int]:
    clusters = [i for i in industries(session) if i.code != code and code in i.gbt]
    return {
        "家企业": _count(session, select(Enterprise.id).where(Enterprise.industry == code)),
        "条需求": _count(session, select(Need.id).where(Need.industry == code)),
        "个方案": _count(session, _json_holding(session, Solution, Solution.industries, code)),
        "个成功案例": _count(session, select(SuccessCase.id).where(SuccessCase.industry == code)),
        "个产业集群": len(clusters),
    }


def save_industry(session: Session, actor_id: int, data: IndustryWrite, reason: str, code: str | None = None):
    """Create an industry (`code` None) or edit the one with `code` (its code never changes: it is
    what enterprises, needs and solutions refer to)."""
    reason = _require_reason(reason)
    existing = session.get(Industry, code) if code else None
    if code and existing is None:
        raise ServiceError("行业不存在")
    if existing is None and session.get(Industry, data.code) is not None:
        raise ServiceError(f"行业代码“{data.code}”已存在", field="code")
    others = [(i.code, i.name, i.synonyms) for i in industries(session) if i.code != (code or data.code)]
    old = (existing.name, existing.synonyms) if existing else ("", [])
    _check_terms("行业", data.name, data.synonyms, others, old)
    industry = existing or Industry(code=data.code, position=_next_position(session, Industry))
    before = _industry_dict(industry) if existing else {}
    industry.sqlmodel_update(data.model_dump(exclude={"code"}))
    session.add(industry)
    _changed(session, actor_id, "industry", "update" if existing else "create", None, reason, before, industry)
    return industry


def delete_industry(session: Session, actor_id: int, code: str, reason: str) -> None:
    reason = _require_reason(reason)
    industry = session.get(Industry, code)
    if industry is None:
        raise ServiceError("行业不存在")
    uses = industry_uses(session, code)
    if any(uses.values()):
        advice = "如需调整，请修改名称或同义词。"
        raise ServiceError(_in_use_message("行业", industry.name, uses, advice))
    session.delete(industry)
    _changed(session, actor_id, "industry", "delete", None, reason, _industry_dict(industry), None)


def _industry_dict(industry: Industry) -> dict:
    return {
        "code": industry.code,
        "name": industry.name,
        "kind": industry.kind,
        "gbt": list(industry.gbt),
        "synonyms": list(industry.synonyms),
    }


# domains


def domain_uses(session: Session, code: str) -> dict[str, int]:
    return {
        "个能力标签": _count(session, select(CapabilityTag.id).where(CapabilityTag.domain == code)),
        "个方案": _count(session, select(Solution.id).where(Solution.domain == code)),
        "家服务商": _count(session, _json_holding(session, Provider, Provider.domains, code)),
        "条需求": _count(session, _json_holding(session, Need, Need.domains, code)),
    }


def save_domain(session: Session, actor_id: int, data: DomainWrite, reason: str, code: str | None = None) -> Domain:
    reason = _require_reason(reason)
    existing = session.get(Domain, code) if code else None
    if code and existing is None:
        raise ServiceError("服务领域不存在")
    if existing is None and session.get(Domain, data.code) is not None:
        raise ServiceError(f"领域代码“{data.code}”已存在", field="code")
    others = [(d.code, d.name, []) for d in domains(session) if d.code != (code or data.code)]
    _check_terms("服务领域", data.name, [], others, (existing.name, []) if existing else ("", []))
    domain = existing or Domain(code=data.code)
    before = _domain_dict(domain) if existing else {}
    domain.sqlmodel_update(data.model_dump(exclude={"code"}))
    session.add(domain)
    _changed(session, actor_id, "domain", "update" if existing else "create", None, reason, before, domain)
    return domain


def delete_domain(session: Session, actor_id: int, code: str, reason: str) -> None:
    reason = _require_reason(reason)
    domain = session.get(Domain, code)
    if domain is None:
        raise ServiceError("服务领域不存在")
    uses = domain_uses(session, code)
    if any(uses.values()):
        raise ServiceError(_in_use_message("服务领域", domain.name, uses, "如需调整，请修改名称、说明或排序。"))
    session.delete(domain)
    _changed(session, actor_id, "domain", "delete", None, reason, _domain_dict(domain), None)


def _domain_dict(domain: Domain) -> dict:
    return {"code": domain.code, "name": domain.name, "description": domain.description, "position": domain.position}


# capability tags


def tag_uses(session: Session, name: str) -> dict[str, int]:
    return {
        "个方案": _count(session, _json_holding(session, Solution, Solution.tags, name)),
        "条需求": _count(session, _json_holding(session, Need, Need.tags, name)),
    }


def save_tag(session: Session, actor_id: int, data: TagWrite, reason: str, tag_id: int | None = None) -> CapabilityTag:
    """Create or edit a capability tag. Solutions and needs store tags by name, so a tag in use keeps
    its name: add the new wording as a synonym instead."""
    reason = _require_reason(reason)
    existing = session.get(CapabilityTag, tag_id) if tag_id is not None else None
    if tag_id is not None and existing is None:
        raise ServiceError("能力标签不存在")
    check_codes(session, domains=[data.domain])
    name = data.name.strip()
    if existing is not None and name != existing.name and any(tag_uses(session, existing.name).values()):
        raise ServiceError(
            f"标签“{existing.name}”已被方案或需求使用，不能改名；可把“{name}”添加为它的同义词", field="name"
        )
    others = [(str(t.id), t.name, t.synonyms) for t in tags(session) if t.id != tag_id]
    _check_terms("能力标签", name, data.synonyms, others, (existing.name, existing.synonyms) if existing else ("", []))
    synonyms = [s for s in data.synonyms if s.lower() != name.lower()]
    tag = existing or CapabilityTag(name=name, domain=data.domain)
    before = _tag_dict(tag) if existing else {}
    tag.sqlmodel_update({"name": name, "domain": data.domain, "synonyms": synonyms})
    session.add(tag)
    session.flush()
    _changed(session, actor_id, "tag", "update" if existing else "create", tag.id, reason, before, tag)
    return tag


def delete_tag(session: Session, actor_id: int, tag_id: int, reason: str) -> None:
    reason = _require_reason(reason)
    tag = session.get(CapabilityTag, tag_id)
    if tag is None:
        raise ServiceError("能力标签不存在")
    uses = tag_uses(session, tag.name)
    if any(uses.values()):
        raise ServiceError(_in_use_message("能力标签", tag.name, uses, "如需调整，请修改所属领域或同义词。"))
    session.delete(tag)
    _changed(session, actor_id, "tag", "delete", tag_id, reason, _tag_dict(tag), None)


def _tag_dict(tag: CapabilityTag) -> dict:
    return {"name": tag.name, "domain": tag.domain, "synonyms": list(tag.synonyms)}


# shared


def _next_position(session: Session, table) -> int:
    return (session.exec(select(func.max(table.position))).one() or 0) + 1


_AS_DICT = {"industry": _industry_dict, "domain": _domain_dict, "tag": _tag_dict}


def _changed(session, actor_id, kind, action, target_id, reason, before: dict, item) -> None:
    """Audit the change with the item before and after, bump the taxonomy version, commit."""
    after = _AS_DICT[kind](item) if item is not None else {}
    audit.record(session, actor_id, f"taxonomy.{kind}.{action}", kind, target_id, reason, before=before, after=after)
    changes.bump(session, TAXONOMY_COUNTER)
    session.commit()


def page_of(session: Session, query, page: int, per_page: int) -> tuple[list, int]:
    total = _count(session, query)
    return list(session.exec(query.offset((page - 1) * per_page).limit(per_page))), total
