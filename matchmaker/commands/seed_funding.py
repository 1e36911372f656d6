"""Demo data on the way from docking to funding: enterprises' maturity standing with its history, the
maturity band of the seeded solutions and the AI-enabled scenarios of the seeded success cases.
Called from `seed.load_demo`; idempotent (an enterprise with history rows, a solution with a band, a
case with scenarios is left alone)."""

from datetime import date, timedelta

from sqlmodel import Session, col, select

from matchmaker.services import changes
from models import Enterprise, MaturityChange, Solution, SuccessCase, utcnow

# Words in a solution's title that mark it as integration across systems (三级及以上).
_INTEGRATION = ("平台", "集成", "数字孪生", "工业互联网", "一体化")
_BAND_OF_DOMAIN = {"data_collection": "1-2", "diagnosis": "1-2", "software": "2-3"}
# Words in a case's text that mark each AI-enabled scenario.
_AI_WORDS = {
    "视觉质检": ("视觉", "AOI", "缺陷检测"),
    "预测性维护": ("预测性维护", "故障预测", "故障预警"),
    "工艺参数优化": ("工艺参数",),
    "大模型应用": ("大模型",),
    "智能排产": ("智能排产", "APS"),
    "能耗优化": ("能耗",),
    "智能仓储物流": ("AGV", "立体库"),
}


def _standing(enterprise: Enterprise) -> None:
    """Level 3 and up assessed with a certificate, below that self-assessed; tiers for the top levels."""
    level = enterprise.maturity_level
    if level >= 3:
        enterprise.maturity_source = "assessed"
        enterprise.maturity_assessed_on = assessed = date.today() - timedelta(days=40)
        enterprise.maturity_certificate = f"GB/T39116-{assessed.year}-{enterprise.credit_code[-6:]}"
    elif level:
        enterprise.maturity_source = "self"
    if level >= 4:
        enterprise.factory_tier, enterprise.factory_tier_year = "advanced", 2025
    elif level == 3 and enterprise.id % 2:
        enterprise.factory_tier, enterprise.factory_tier_year = "basic", 2024


def _history(enterprise: Enterprise) -> list[MaturityChange]:
    """A first statement half a year ago one level lower (for level 2 and up), then the current level."""
    now, level = utcnow(), enterprise.maturity_level
    steps = [(0, level - 1, 170), (level - 1, level, 40)] if level >= 2 else [(0, level, 120)]
    return [
        MaturityChange(
            enterprise_id=enterprise.id,
            from_level=before,
            to_level=after,
            maturity_source=enterprise.maturity_source if after == level else "self",
            factory_tier=enterprise.factory_tier if after == level else "",
            created_at=now - timedelta(days=days + enterprise.id % 20),
        )
        for before, after, days in steps
    ]


def load(session: Session) -> None:
    """Maturity standing and history for the seeded enterprises, bands for the seeded solutions, AI
    scenarios for the seeded cases."""
    recorded = set(session.exec(select(MaturityChange.enterprise_id).group_by(MaturityChange.enterprise_id)))
    for enterprise in session.exec(select(Enterprise).where(col(Enterprise.maturity_level) > 0)):
        if enterprise.id in recorded:
            continue
        _standing(enterprise)
        session.add(enterprise)
        session.add_all(_history(enterprise))
    banded = []
    for solution in session.exec(select(Solution).where(Solution.maturity_band == "")):
        band = "3-5" if any(word in solution.title for word in _INTEGRATION) else _BAND_OF_DOMAIN.get(solution.domain)
        if band:
            solution.maturity_band = band
            session.add(solution)
            banded.append(solution.id)
    changes.mark_solutions(session, banded)
    for case in session.exec(select(SuccessCase)):
        if not case.ai_scenarios:
            text = f"{case.title}\n{case.description}"
            case.ai_scenarios = [name for name, words in _AI_WORDS.items() if any(w in text for w in words)]
            session.add(case)
    session.flush()
