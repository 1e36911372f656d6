"""Learning from outcomes: what enterprises and providers did with a match, as graded (need, solution)
pairs, and re-fitting the fusion weights from them plus the public labelled sets.

Grades, per pair (the furthest the pair got; a "no" counts only while nothing went further):
    3  docking completed (验收) with satisfaction >= 4
    2  docking accepted by the provider, in negotiation, contracted, or completed with satisfaction < 4
    1  docking requested (also when the enterprise cancelled it later), or the enterprise marked 有用
    0  the enterprise marked 不相关, or the provider declined the docking
The platform has no other way for a provider to turn down a pushed need than declining its docking.
Grade 0 is kept in the pairs for the report; in NDCG@10 it counts as any unjudged solution does.

The pairs are read from the rows where they happen (MatchFeedback, Docking), not copied into a table.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from embeddings import Encoder
from matchmaker.matching.evaluation import LabelledNeed, LabelledSet
from matchmaker.matching.fusion import Weights
from matchmaker.matching.search_index import (
    TAXONOMY_COUNTER,
    _matchable_solutions,  # what every worker's index holds
    read_taxonomy,
    stored_weights,
    to_doc,
)
from matchmaker.matching.taxonomy import Taxonomy
from matchmaker.matching.tuning import CrossValidation, cross_validate, labelled_tables, need_tables, refusals
from matchmaker.services import audit, changes
from matchmaker.services.errors import ServiceError
from matchmaker.services.matching import need_profile
from models import Docking, DockingStatus, FusionWeights, MatchFeedback, Need, Role, User
from models.validation import text_error

D = DockingStatus
PROGRESSED = frozenset({D.accepted, D.negotiating, D.contracted})
SATISFIED = 4  # satisfaction (1-5) from which a completed docking is the best outcome
OUTCOMES = "平台对接结果"  # the source name of the outcome pairs in the cross-validation


def grade(docking: DockingStatus | None, satisfaction: int | None, verdict: str | None) -> int | None:
    """The grade of one pair from its docking's status and satisfaction and the enterprise's verdict
    (useful | irrelevant); None when nothing happened to it. See the module doc."""
    if docking == D.completed:
        return 3 if (satisfaction or 0) >= SATISFIED else 2
    if docking in PROGRESSED:
        return 2
    if docking == D.declined or verdict == "irrelevant":
        return 0
    if docking is not None or verdict == "useful":
        return 1
    return None


def graded_pairs(session: Session) -> dict[tuple[int, int], int]:
    """(need id, solution id) -> grade, for every pair with a docking or a verdict."""
    dockings = {
        (need_id, solution_id): (status, satisfaction)
        for need_id, solution_id, status, satisfaction in session.exec(
            select(Docking.need_id, Docking.solution_id, Docking.status, Docking.satisfaction)
        )
    }
    verdicts = {
        (need_id, solution_id): verdict
        for need_id, solution_id, verdict in session.exec(
            select(MatchFeedback.need_id, MatchFeedback.solution_id, MatchFeedback.verdict)
        )
    }
    pairs = {}
    for pair in sorted(dockings.keys() | verdicts.keys()):
        status, satisfaction = dockings.get(pair, (None, None))
        value = grade(status, satisfaction, verdicts.get(pair))
        if value is not None:
            pairs[pair] = value
    return pairs


def outcome_set(session: Session, taxonomy: Taxonomy, pairs: dict[tuple[int, int], int]) -> LabelledSet:
    """The outcomes as a labelled set: the needs with a pair graded >= 1, candidates all matchable
    solutions (a graded solution no longer matchable drops out, as it would from a ranking)."""
    solutions = tuple(to_doc(s) for s in _matchable_solutions(session))
    by_need: dict[int, dict[int, int]] = {}
    for (need_id, solution_id), value in pairs.items():
        by_need.setdefault(need_id, {})[solution_id] = value
    wanted = [need_id for need_id, grades in by_need.items() if max(grades.values()) >= 1]
    needs = session.exec(select(Need).where(col(Need.id).in_(wanted)).order_by(Need.id)) if wanted else []
    return LabelledSet(
        solutions=solutions,
        needs=tuple(LabelledNeed(f"need-{n.id}", need_profile(n), by_need[n.id]) for n in needs),
        solution_keys={s.id: str(s.id) for s in solutions},
    )


@dataclass(frozen=True)
class Refit:
    pairs: dict[int, int]  # grade -> number of pairs
    outcome_needs: int  # needs of the outcome set that were judged
    before: Weights  # in force when the command ran
    after: Weights  # the re-fitted weights (adopted or not)
    result: CrossValidation  # baselines["current"] holds the figures of `before`
    refused: list[str]  # why `after` was not adopted; empty when it was


def refit(
    session: Session,
    admin_email: str,
    reason: str,
    public: Sequence[str | Path],
    encoder: Encoder,
    *,
    folds: int = 5,
    step: float = 0.1,
) -> Refit:
    """Re-fit the fusion weights on the public sets plus the outcomes, by the cross-validation of
    `flask tune-weights`, and adopt them only when `tuning.refusals` finds no reason not to: a new
    FusionWeights row, an audit entry with the weights and figures before and after, and the taxonomy
    counter bumped so every worker rebuilds its engine with them. Otherwise nothing is written."""
    reason = reason.strip()
    if not reason or text_error(reason, multiline=True):
        raise ServiceError("请填写调整理由（将记入审计日志），不能含控制字符", field="reason")
    admin = session.exec(select(User).where(func.lower(User.email) == admin_email.strip().lower())).first()
    if admin is None or admin.role != Role.admin:
        raise ServiceError(f"没有该管理员账号：{admin_email.strip()}", field="admin_email")
    if len(public) < 2:
        raise ServiceError("至少需要两个公开标注集：只在一个文件上调权重会过拟合")
    taxonomy = read_taxonomy(session)
    pairs = graded_pairs(session)
    outcomes = labelled_tables(OUTCOMES, outcome_set(session, taxonomy, pairs), encoder, taxonomy)
    tables = [table for path in public for table in need_tables(path, encoder, taxonomy)] + outcomes
    before = stored_weights(session)
    result = cross_validate(tables, folds=folds, step=step, fixed={"current": before})
    after = Weights(*(round(float(w), 6) for w in result.best))
    refused = refusals(result, "current", [str(p) for p in public])
    if np.allclose(list(before.normalised().values()), result.best):
        refused.append("重新拟合的权重与当前权重相同")
    counts = {g: sum(1 for v in pairs.values() if v == g) for g in range(4)}
    report = Refit(counts, len(outcomes), before, after, result, refused)
    if not refused:
        _adopt(session, admin.id, reason, report)
    session.rollback()  # ends the read transaction when nothing was adopted
    return report


def _adopt(session: Session, admin_id: int, reason: str, report: Refit) -> None:
    row = FusionWeights(**asdict(report.after), adopted_by=admin_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        admin_id,
        "fusion_weights.adopt",
        "fusion_weights",
        row.id,
        reason,
        before={"weights": report.before.normalised(), "held_out": report.result.baselines["current"]},
        after={"weights": report.after.normalised(), "held_out": report.result.held_out},
        outcome_pairs={str(g): n for g, n in report.pairs.items()},
    )
    changes.bump(session, TAXONOMY_COUNTER)  # every worker rebuilds its engine with the new weights
    session.commit()
