"""Stamping solutions whose matchability may have changed, so every worker's index can catch up; and
the other change counters every worker polls (taxonomy edits, API key revocations)."""

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
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


def bump(session: Session, counter_id: int) -> None:
    """Increment counter `counter_id` inside the caller's transaction (the row lock orders concurrent
    changes); the row is created by the first change, and a racing first change simply updates it."""
    statement = update(ChangeCounter).where(ChangeCounter.id == counter_id).values(value=ChangeCounter.value + 1)
    if session.exec(statement).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(ChangeCounter(id=counter_id, value=1))
    except IntegrityError:
        session.exec(statement)
