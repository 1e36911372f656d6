"""Learning from outcomes: graded pairs from dockings and verdicts, and `flask refit-weights`, which
adopts re-fitted weights only when they beat the current ones on held-out folds of both public sets."""

import numpy as np
import pytest
from sqlmodel import select

from matchmaker import create_app
from matchmaker.matching.fusion import SIGNALS, Weights
from matchmaker.matching.search_index import TAXONOMY_COUNTER, read_taxonomy, stored_weights
from matchmaker.matching.tuning import cross_validate, refusals
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import changes, matching
from matchmaker.services.outcomes import grade, graded_pairs, outcome_set
from models import AuditLog, Docking, DockingStatus, Enterprise, FusionWeights, MatchFeedback, Need
from tests.conftest import PASSWORD, table_snapshot
from tests.matching.test_evaluation import labelled_set
from tests.matching.test_need_matching import NEED_TEXT, catalogue
from tests.matching.test_tuning import LEXICAL, table

D = DockingStatus
ADMIN = "admin@example.com"


@pytest.mark.parametrize(
    ("docking", "satisfaction", "verdict", "expected"),
    [
        (D.completed, 5, None, 3),
        (D.completed, 4, "irrelevant", 3),  # delivered and satisfied: the verdict came too early
        (D.completed, 2, None, 2),
        (D.contracted, None, None, 2),
        (D.accepted, None, "irrelevant", 2),
        (D.declined, None, "useful", 0),  # the provider turned it down
        (None, None, "irrelevant", 0),
        (D.requested, None, "irrelevant", 0),
        (D.requested, None, None, 1),
        (D.cancelled, None, None, 1),
        (None, None, "useful", 1),
        (None, None, None, None),
    ],
)
def test_grades_follow_the_furthest_outcome(docking, satisfaction, verdict, expected):
    assert grade(docking, satisfaction, verdict) == expected


def test_outcomes_that_reward_lexical_matches_raise_the_lexical_weight():
    """Public sets on which every weight does equally well leave lexical at 0; outcome needs whose
    answers only the lexical signal finds make the re-fit put weight on it."""
    rng = np.random.default_rng(5)
    public = []
    for source in ("a", "b"):
        for i in range(6):
            t = table(source, f"{source}{i}", LEXICAL, rng)
            t.values[0] = 1.0  # the answer tops every signal: every weight finds it
            public.append(t)
    assert cross_validate(public, folds=3, step=0.5).best[LEXICAL] == 0.0
    outcomes = [table("outcomes", f"o{i}", LEXICAL, rng) for i in range(6)]
    refit = cross_validate(public + outcomes, folds=3, step=0.5, fixed={"current": Weights(0, 0, 0, 0, 0, 1, 0)})
    assert refit.best[LEXICAL] >= 0.5
    assert refit.held_out["outcomes"] == pytest.approx(1.0)
    # Both public sets tie with the current weights: no gain there, so the rule refuses.
    assert refusals(refit, "current", ["a", "b"]) == ["公开标注集宏平均 NDCG@10 1.000 未高于当前权重的 1.000"]


def public_sets(tmp_path) -> list[str]:
    paths = []
    for name in ("first", "second"):
        folder = tmp_path / name
        folder.mkdir()
        paths.append(str(labelled_set(folder)))
    return paths


def refit(app, paths, *extra):
    args = ["refit-weights", "--encoder", "hash", "--folds", "2", "--step", "0.5"]
    args += [arg for path in paths for arg in ("--public", path)]
    return app.test_cli_runner().invoke(args=[*args, *extra])


@pytest.fixture
def admin(app):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", ADMIN, "--name", "管理员", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output


def test_refit_adopts_better_weights_every_worker_uses_them_and_a_worse_fit_changes_nothing(app, db, admin, tmp_path):
    paths = public_sets(tmp_path)
    db.add(FusionWeights(semantic=0, lexical=0, industry=0, size=1, tags=0, domain=0))  # ranks by nothing
    changes.bump(db, TAXONOMY_COUNTER)
    db.commit()
    catalogue(db)
    need = matching.need_profile(
        Need(title="设备联网", description=NEED_TEXT, industry="furniture", size_class="small", enterprise_id=0)
    )
    other = create_app(dict(app.config))  # a second worker on the same database
    with other.app_context():
        before = search_index().match(engine(), need)
    assert before and all(m.parts[name] == 0 for m in before for name in SIGNALS if name != "size")

    result = refit(app, paths, "--admin-email", ADMIN, "--reason", "按对接结果重新拟合")
    assert result.exit_code == 0, result.output
    assert "已采用新权重" in result.output and "held-out" in result.output
    adopted = stored_weights(db)
    assert adopted.size == 0 and adopted.semantic + adopted.lexical > 0
    entry = db.exec(select(AuditLog).where(AuditLog.action == "fusion_weights.adopt")).one()
    assert entry.reason == "按对接结果重新拟合" and entry.actor_id is not None
    assert entry.detail["before"]["weights"]["size"] == 1.0
    assert entry.detail["after"]["weights"] == pytest.approx(adopted.normalised())
    assert set(entry.detail["before"]["held_out"]) == set(paths)

    with other.app_context():  # no restart: the next match ranks with the adopted weights
        after = search_index().match(engine(), need)
        engine().dispose()
    share = adopted.normalised()
    for m in after:
        assert all(m.parts[name] <= share[name] + 1e-9 for name in SIGNALS)
    assert sum(m.parts["semantic"] + m.parts["lexical"] for m in after) > 0 and all(m.parts["size"] == 0 for m in after)

    state = table_snapshot(db.get_bind())
    again = refit(app, paths, "--admin-email", ADMIN, "--reason", "再拟合一次")
    assert again.exit_code == 0, again.output
    assert "未采用，权重保持不变" in again.output
    assert table_snapshot(db.get_bind()) == state  # no weights row, no audit entry, no counter bump


@pytest.mark.parametrize(
    ("who", "reason", "message"),
    [
        (ADMIN, "  ", "请填写调整理由"),
        (ADMIN, "理由\x00", "不能含控制字符"),
        ("nobody@example.com", "理由", "没有该管理员账号"),
        ("factory1@example.com", "理由", "没有该管理员账号"),  # an enterprise user
    ],
)
def test_refit_refuses_without_an_admin_or_a_reason(app, db, admin, enterprise_client, tmp_path, who, reason, message):
    state = table_snapshot(db.get_bind())
    result = refit(app, public_sets(tmp_path), "--admin-email", who, "--reason", reason)
    assert result.exit_code != 0 and message in result.output
    assert table_snapshot(db.get_bind()) == state


def test_graded_pairs_come_from_dockings_and_verdicts_and_make_a_labelled_set(app, db, enterprise_client):
    solutions = catalogue(db)
    enterprise = db.exec(select(Enterprise)).one()
    needs = [
        Need(
            enterprise_id=enterprise.id,
            title=f"需求{i}",
            description=NEED_TEXT,
            industry="furniture",
            size_class="small",
        )
        for i in range(3)
    ]
    db.add_all(needs)
    db.commit()
    iot, mes, security = solutions["iot"], solutions["mes"], solutions["security"]

    def docking(need, solution, status, satisfaction=None):
        db.add(
            Docking(
                need_id=need.id,
                solution_id=solution.id,
                enterprise_id=enterprise.id,
                provider_id=solution.provider_id,
                status=status,
                satisfaction=satisfaction,
            )
        )

    docking(needs[0], iot, D.completed, 5)
    docking(needs[0], mes, D.declined)
    db.add(MatchFeedback(need_id=needs[0].id, solution_id=security.id, verdict="useful"))
    db.add(MatchFeedback(need_id=needs[1].id, solution_id=mes.id, verdict="irrelevant"))  # only a "no"
    docking(needs[2], security, D.requested)
    db.add(MatchFeedback(need_id=needs[2].id, solution_id=security.id, verdict="irrelevant"))
    db.commit()

    pairs = graded_pairs(db)
    assert pairs == {
        (needs[0].id, iot.id): 3,
        (needs[0].id, mes.id): 0,
        (needs[0].id, security.id): 1,
        (needs[1].id, mes.id): 0,
        (needs[2].id, security.id): 0,
    }
    labelled = outcome_set(db, read_taxonomy(db), pairs)
    assert [n.key for n in labelled.needs] == [f"need-{needs[0].id}"]  # the others hold no positive outcome
    assert {s.id for s in labelled.solutions} == {iot.id, mes.id, security.id}
