"""Stamping solutions whose matchability may have changed, so every worker's index can catch up."""

from collections.abc import Iterable

from sqlalchemy import update
from sqlmodel import Session

from models import ChangeCounter, Solution


def _next_seq(session: Session) -> int:
    """Increment the counter; the row lock held until commit orders the stamps by commit."""
    return session.exec(
        update(ChangeCounter)
        .where(ChangeCounter.id == 1)
        .values(value=ChangeCounter.value + 1)
        .returning(ChangeCounter.value)
    ).scalar_one()


def mark_solutions(session: Session, solution_ids: Iterable[int]) -> None:
    ids = list(solution_ids)
    if ids:
        seq = _next_seq(session)
        session.exec(update(Solution).where(Solution.id.in_(ids)).values(change_seq=seq))


def mark_provider(session: Session, provider_id: int) -> None:
    """A whitelist change touches every solution of the provider."""
    seq = _next_seq(session)
    session.exec(update(Solution).where(Solution.provider_id == provider_id).values(change_seq=seq))
