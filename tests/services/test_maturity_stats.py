"""The dashboard's maturity section: enterprises and open needs by level and tier, levels month by month."""

from datetime import UTC, datetime

from matchmaker.services import maturity, stats
from models import Enterprise, MaturityChange, Need, NeedStatus
from tests.services.test_dockings import add_enterprise


def _enterprise(db, serial: int, level: int, tier: str = "") -> Enterprise:
    enterprise = add_enterprise(db, serial)
    enterprise.maturity_level, enterprise.maturity_source = level, "self" if level else ""
    enterprise.factory_tier, enterprise.factory_tier_year = tier, 2025 if tier else None
    db.add(enterprise)
    db.flush()
    return enterprise


def _need(db, enterprise: Enterprise, status: NeedStatus = NeedStatus.open) -> None:
    db.add(
        Need(
            enterprise_id=enterprise.id,
            title="需求",
            description="设备联网",
            industry="furniture",
            size_class="small",
            status=status,
        )
    )


def _change(db, enterprise: Enterprise, before: int, after: int, at: datetime) -> None:
    db.add(MaturityChange(enterprise_id=enterprise.id, from_level=before, to_level=after, created_at=at))


def test_standing_counts_enterprises_and_open_needs_by_level_and_tier(db):
    a, b, c = _enterprise(db, 1, 3, "advanced"), _enterprise(db, 2, 3, "advanced"), _enterprise(db, 3, 0)
    _need(db, a), _need(db, a), _need(db, b, NeedStatus.closed), _need(db, c)
    db.commit()
    now = maturity.standing(db)
    assert now.enterprises == {(3, "advanced"): 2, (0, ""): 1}
    assert now.open_needs == {(3, "advanced"): 2, (0, ""): 1}


def test_levels_over_time_follow_the_history_in_beijing_months(db):
    a, b = _enterprise(db, 1, 3), _enterprise(db, 2, 2)
    _change(db, a, 0, 1, datetime(2025, 12, 3, tzinfo=UTC))  # before the period: counted from its start
    _change(db, a, 1, 2, datetime(2026, 1, 31, 17, tzinfo=UTC))  # 1 Feb in Beijing
    _change(db, b, 0, 2, datetime(2026, 2, 10, tzinfo=UTC))  # first statement: not an upgrade
    _change(db, a, 2, 3, datetime(2026, 3, 5, tzinfo=UTC))
    _change(db, b, 2, 2, datetime(2026, 4, 1, tzinfo=UTC))  # source or tier changed, level not
    _change(db, a, 3, 4, datetime(2026, 5, 1, tzinfo=UTC))  # after the period
    db.commit()
    levels, upgrades = maturity.levels_over_time(db, stats.Period.of_months("2026-01", "2026-04"))
    assert levels.months == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert levels.rows == {"1": [1, 0, 0, 0], "2": [0, 2, 1, 1], "3": [0, 0, 1, 1]}
    assert upgrades == [0, 1, 1, 0]


def test_the_dashboard_shows_the_maturity_tables_and_chart(admin_client, db):
    a = _enterprise(db, 1, 4, "excellent")
    _need(db, a)
    _change(db, a, 3, 4, datetime.now(UTC))
    db.commit()
    html = admin_client.get("/admin/dashboard").get_data(as_text=True)
    assert "企业数：成熟度等级 × 智能工厂等级" in html and "开放需求数：成熟度等级 × 智能工厂等级" in html
    row = html[html.index('<th scope="row">四级 优化级</th>') :].split("</tr>")[0]
    assert row.count("<td>1</td>") == 2  # 卓越级 and 合计
    assert "共有 1 次等级提升" in html and "目前三级及以上企业 1 家" in html
