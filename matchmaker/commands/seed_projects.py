"""Demo 数字化技改项目白名单: projects at every review stage, made through the service an enterprise's and
an admin's clicks call, on the demo's dockings that reached 签约 / 验收 where there are some and without a
docking otherwise. Idempotent: nothing is added once the demo has a project."""

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from matchmaker.services import retrofit_projects as projects
from models import Docking, Enterprise, Provider, ProviderStatus, RetrofitProject, User

DEMO_REASON = "演示数据"
SCORES = {"investment": 20, "digital_share": 21, "provider": 19, "replicability": 17}
# stage -> the admin's steps after 申报, each with the days before today it is taken
STAGES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("submitted", ()),
    ("returned", (("return", 6),)),
    ("accepted", (("accept", 8),)),
    ("reviewed", (("accept", 20), ("score", 10))),
    ("publicity", (("accept", 20), ("score", 12), ("publicise", 1))),
    ("selected", (("accept", 80), ("score", 70), ("publicise", 60), ("select", 45))),
    ("not_selected", (("accept", 50), ("score", 40), ("not_select", 30))),
    ("completed", (("accept", 200), ("score", 190), ("publicise", 180), ("select", 160))),
)
FREE = (
    ("皮革裁切车间智能排产改造", "裁切车间上线 APS 智能排产与 MES 报工，打通 ERP 订单。", 420.0, 260.0),
    ("钟表装配线视觉质检改造", "装配线加装工业相机，AI 视觉检测表盘、指针装配缺陷。", 310.0, 240.0),
    ("家具涂装线能耗在线监测", "涂装线、烘干房加装电表与数采网关，能耗看板与异常告警。", 150.0, 95.0),
    ("精密零部件柔性制造单元建设", "建设 FMC 柔性制造单元，数控机床联网与刀具寿命管理。", 880.0, 520.0),
)
RESULTS = (
    "设备综合效率提升 15%，达到智能制造能力成熟度三级",
    "质检漏检率降至 0.5% 以下，减少质检人员 6 名",
    "单位产值能耗下降 8%，形成可在同行业推广的改造模板",
)


def _applications(session: Session, listed: list[int]) -> list[tuple[Enterprise, projects.ProjectInput, int | None]]:
    """One application per stage: first from the demo's contracted or accepted dockings, then free ones."""
    out: list[tuple[Enterprise, projects.ProjectInput, int | None]] = []
    dockings = session.exec(
        select(Docking).where(col(Docking.status).in_(projects.PREFILL_FROM)).order_by(col(Docking.id))
    ).all()
    seen: set[tuple[int, str]] = set()
    for docking in dockings:
        filled = projects.prefill(session, docking.enterprise_id, docking.id)
        if len(out) == 4 or (docking.enterprise_id, filled.name) in seen:
            continue
        seen.add((docking.enterprise_id, filled.name))
        start = filled.start_on or date.today() - timedelta(days=90)
        data = replace(
            filled,
            start_on=start,
            end_on=start + timedelta(days=240),
            total_investment=round((filled.total_investment or 50) * 1.6, 1),
            digital_investment=filled.digital_investment or 50,
            expected_result=RESULTS[len(out) % len(RESULTS)],
            provider_ids=filled.provider_ids,
            other_providers=filled.other_providers or ("" if filled.provider_ids else "区外集成商"),
        )
        out.append((session.get(Enterprise, docking.enterprise_id), data, docking.id))
    enterprises = session.exec(select(Enterprise).order_by(col(Enterprise.id))).all()
    for number, enterprise in enumerate(enterprises):
        if len(out) >= len(STAGES):
            break
        name, content, total, digital = FREE[number % len(FREE)]
        data = projects.ProjectInput(
            name=name,
            content=content,
            total_investment=total,
            digital_investment=digital,
            start_on=date.today() - timedelta(days=120),
            end_on=date.today() + timedelta(days=240),
            expected_result=RESULTS[number % len(RESULTS)],
            provider_ids=listed[number % len(listed) : number % len(listed) + 1] if listed else [],
            other_providers="" if listed else "区外集成商",
            target_maturity=min(enterprise.maturity_level + 1, 5),
        )
        out.append((enterprise, data, None))
    return out


def load(session: Session, admin: User, today: date) -> int:
    """Projects at every stage of the review; returns how many were added (0 when the demo has some)."""
    if session.exec(select(func.count()).select_from(RetrofitProject)).one():
        return 0
    listed = list(session.exec(select(Provider.id).where(Provider.status == ProviderStatus.approved)))
    added = 0
    for (stage, steps), (enterprise, data, docking_id) in zip(STAGES, _applications(session, listed), strict=False):
        project = projects.submit(session, enterprise.id, enterprise.user_id, data, docking_id)
        for action, days_ago in steps:
            reason = "专家组评审意见：投入结构合理，具备行业示范价值（演示）" if action == "score" else DEMO_REASON
            projects.decide(
                session, project.id, action, admin.id, reason, today - timedelta(days=days_ago), scores=SCORES
            )
        if stage == "selected":
            projects.report_progress(session, project.id, enterprise.id, enterprise.user_id, 60, "主体设备已安装调试")
        elif stage == "not_selected":
            projects.file_appeal(session, project.id, enterprise.id, enterprise.user_id, "数字化投资口径有误，请复核")
        elif stage == "completed":  # a project without a docking: the first four stages take the dockings
            projects.complete(session, project.id, enterprise.id, enterprise.user_id, "系统上线并通过验收", today)
        added += 1
    return added
