"""Reading and checking the taxonomies kept in the database."""

from collections.abc import Iterable

from sqlmodel import Session, select

from matchmaker.errors import ServiceError
from models import CapabilityTag, Domain, Industry


def domains(session: Session) -> list[Domain]:
    return list(session.exec(select(Domain).order_by(Domain.position)))


def industries(session: Session) -> list[Industry]:
    return list(session.exec(select(Industry).order_by(Industry.position)))


def tags(session: Session) -> list[CapabilityTag]:
    return list(session.exec(select(CapabilityTag).order_by(CapabilityTag.domain, CapabilityTag.id)))


def as_dict(session: Session) -> dict:
    """The taxonomy in the shape of seed_data/taxonomy.json (what `matchmaker.taxonomy` reads)."""
    return {
        "domains": [{"code": d.code, "name": d.name, "description": d.description} for d in domains(session)],
        "industries": [
            {"code": i.code, "name": i.name, "kind": i.kind, "gbt": i.gbt, "synonyms": i.synonyms}
            for i in industries(session)
        ],
        "tags": [{"name": t.name, "domain": t.domain, "synonyms": t.synonyms} for t in tags(session)],
    }


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
