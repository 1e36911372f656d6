"""Publishing a need (一键发布) as one transaction: the need, the ranking snapshot the enterprise is
shown and the precise pushes to providers (records, notifications, queued emails) commit together,
or none of them does.

So a worker killed half-way through a publish (SIGKILL, the OOM killer, a lost machine) leaves
either no trace of it or all of it: never a need without its snapshot and its pushes, never a push,
notification or email about a need that was not saved (tests/commands/test_crash_safety.py kills one at each
step). The enterprise simply publishes again.

The ranking is worked out before the first write: the search index reads, and may store missing
solution vectors, through a session of its own, which on SQLite would wait for this transaction's
write lock.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from matchmaker.matching.search_index import SearchIndex
from matchmaker.matching.tagging import Suggestion
from matchmaker.services import enterprises, matching, push
from models import MatchResult, Need, PushRecord, utcnow
from models.schemas import NeedCreate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    need: Need
    results: list[MatchResult]
    pushes: list[PushRecord] = field(default_factory=list)


def publish_need(
    session: Session,
    db: Engine,
    index: SearchIndex,
    enterprise_id: int,
    data: NeedCreate,
    suggestion: Suggestion | None = None,
    caps: push.PushCaps | None = None,
    now: datetime | None = None,
) -> Published:
    """Save the need (see `enterprises.new_need`), store its ranking and, with `caps`, push it to the
    providers of its best matches (see `push.push_need`); one commit. A failing push is logged and
    undone on its own (a savepoint): the publish does not depend on it."""
    need = enterprises.new_need(session, enterprise_id, data, suggestion)
    ranked = matching.rank(db, index, need)
    session.add(need)
    session.flush()
    results = matching.store_snapshot(session, need, ranked)
    pushes = _push(session, need, results, now or utcnow(), caps) if caps is not None else []
    session.commit()
    return Published(need, results, pushes)


def _push(
    session: Session, need: Need, results: list[MatchResult], now: datetime, caps: push.PushCaps
) -> list[PushRecord]:
    try:
        with session.begin_nested():
            return push.push_need(session, need, results, now, caps)
    except Exception:  # noqa: BLE001 - a push must not cost the enterprise its publish
        log.exception("precise push of need %s failed; the need is published without it", need.id)
        return []
