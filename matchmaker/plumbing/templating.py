"""Jinja filters and globals: Chinese labels for codes, so templates never show a raw code."""

from datetime import UTC, date, datetime, timedelta, timezone

from flask import Flask, current_app, g

from matchmaker.matching.bands import BAND_LABELS, band_of, configured_cutoffs
from matchmaker.plumbing.db import get_session
from matchmaker.services import taxonomy as taxonomy_service
from matchmaker.services.labels import (
    APPEAL_STATUS_LABELS,
    AUDIT_LABELS,
    DEPLOYMENT_LABELS,
    NEED_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    PROVIDER_STATUS_LABELS,
    SIGNAL_LABELS,
    SOLUTION_STATUS_LABELS,
)
from matchmaker.services.whitelist import ACTION_LABELS
from models.validation import FACTORY_TIERS, MATURITY_BANDS, MATURITY_LEVELS, SIZE_LABELS

BEIJING = timezone(timedelta(hours=8), "北京时间")
_TAXONOMY_VERBS = {"create": "新增", "update": "修改", "delete": "删除"}
_TAXONOMY_KINDS = {"industry": "行业", "domain": "服务领域", "tag": "能力标签"}


def _names() -> dict[str, dict[str, str]]:
    """Code -> name maps for domains and industries, read once per request."""
    if "taxonomy_names" not in g:
        session = get_session()
        g.taxonomy_names = {
            "domain": {d.code: d.name for d in taxonomy_service.domains(session)},
            "industry": {i.code: i.name for i in taxonomy_service.industries(session)},
        }
    return g.taxonomy_names


def _label(mapping: dict[str, str]):
    return lambda code: mapping.get(str(code), str(code)) if code is not None else ""


def _when(value: datetime | date | None) -> str:
    """Dates as they are; times in Beijing time (stored in UTC; SQLite returns them without a zone)."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _audit_action(action: str) -> str:
    """An audit action ("whitelist.approve", "taxonomy.tag.update", "export.needs") in Chinese."""
    area, _, rest = action.partition(".")
    if area == "whitelist":
        return ACTION_LABELS.get(rest, rest)
    if area == "taxonomy":
        kind, _, verb = rest.partition(".")
        return f"{_TAXONOMY_VERBS.get(verb, verb)}{_TAXONOMY_KINDS.get(kind, kind)}"
    return AUDIT_LABELS.get(action, action)


def _band(score: float) -> tuple[str, str]:
    """(css key, words) of a match score's band; ("low", "匹配度较低") below the partial band."""
    band = band_of(score, configured_cutoffs(current_app.config))
    return (band, BAND_LABELS[band]) if band else ("low", "匹配度较低")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        size=_label(SIZE_LABELS),
        maturity=lambda level: MATURITY_LEVELS.get(int(level or 0), ""),
        factory_tier=lambda tier: FACTORY_TIERS.get(tier or "", ""),
        maturity_band=lambda band: MATURITY_BANDS.get(band or "", ""),
        provider_status=_label(PROVIDER_STATUS_LABELS),
        solution_status=_label(SOLUTION_STATUS_LABELS),
        need_status=_label(NEED_STATUS_LABELS),
        deployment=_label(DEPLOYMENT_LABELS),
        domain=lambda code: _names()["domain"].get(code, code),
        industry=lambda code: _names()["industry"].get(code, code),
        whitelist_action=_label(ACTION_LABELS),
        appeal_status=_label(APPEAL_STATUS_LABELS),
        project_status=_label(PROJECT_STATUS_LABELS),
        signal=_label(SIGNAL_LABELS),
        when=_when,
        audit_action=_audit_action,
        band=_band,
    )
