from datetime import date

import pytest
from sqlmodel import Session, select

from matchmaker.services import whitelist
from matchmaker.services.errors import ServiceError
from models import AuditLog, Provider, ProviderStatus, SuccessCase, User, WhitelistEvent
from tests.conftest import credit_code


def _provider(db: Session, status: ProviderStatus, serial: int = 700) -> Provider:
    provider = Provider(
        name=f"服务商{serial}",
        credit_code=credit_code(serial),
        contact_name="张",
        phone="13800138000",
        email=f"p{serial}@example.com",
        domains=["software"],
        status=status,
    )
    db.add(provider)
    db.commit()
    return provider


def _decide(client, provider_id: int, action: str, reason: str):
    from tests.conftest import post

    return post(
        client,
        f"/admin/providers/{provider_id}/decide",
        {"action": action, "reason": reason},
        page=f"/admin/providers/{provider_id}",
    )


def test_approve_with_reason_is_recorded_everywhere(admin_client, db):
    provider = _provider(db, ProviderStatus.applied)
    assert "待审核" in admin_client.get("/admin/providers?status=applied").get_data(as_text=True)
    response = _decide(admin_client, provider.id, "approve", "资料齐全，案例真实")
    assert response.status_code == 302
    db.expire_all()
    provider = db.get(Provider, provider.id)
    admin = db.exec(select(User).where(User.role == "admin")).one()
    assert provider.status == "approved"
    assert provider.approved_until == whitelist.one_year_after(date.today())
    event = db.exec(select(WhitelistEvent)).one()
    assert (event.actor_id, event.action, event.reason) == (admin.id, "approve", "资料齐全，案例真实")
    entry = db.exec(select(AuditLog)).one()
    assert (entry.actor_id, entry.action, entry.target_id, entry.reason) == (
        admin.id,
        "whitelist.approve",
        provider.id,
        "资料齐全，案例真实",
    )
    assert entry.detail == {
        "from_status": "applied",
        "to_status": "approved",
        "approved_until": provider.approved_until.isoformat(),
    }
    audit_page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "批准入库" in audit_page and "资料齐全，案例真实" in audit_page


def test_decision_without_reason_changes_nothing(admin_client, db):
    provider = _provider(db, ProviderStatus.applied)
    response = _decide(admin_client, provider.id, "reject", "   ")
    assert response.status_code == 400 and "请填写操作理由" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Provider, provider.id).status == "applied"
    assert db.exec(select(AuditLog)).first() is None and db.exec(select(WhitelistEvent)).first() is None


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        ("applied", "reject", "rejected"),
        ("approved", "suspend", "suspended"),
        ("suspended", "reinstate", "approved"),
        ("suspended", "revoke", "revoked"),
    ],
)
def test_allowed_transitions(admin_client, db, start, action, end):
    provider = _provider(db, ProviderStatus(start))
    assert _decide(admin_client, provider.id, action, "理由").status_code == 302
    db.expire_all()
    assert db.get(Provider, provider.id).status == end


@pytest.mark.parametrize(
    ("start", "action"),
    [("draft", "approve"), ("approved", "approve"), ("rejected", "suspend"), ("revoked", "reinstate")],
)
def test_forbidden_transitions_change_nothing(admin_client, db, start, action):
    provider = _provider(db, ProviderStatus(start))
    response = _decide(admin_client, provider.id, action, "理由")
    assert response.status_code == 400 and "当前状态下不能执行" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Provider, provider.id).status == start
    assert db.exec(select(AuditLog)).first() is None


def test_renewal_extends_from_the_current_expiry(db):
    provider = _provider(db, ProviderStatus.approved)
    provider.approved_until = date(2027, 1, 31)
    db.add(provider)
    db.commit()
    whitelist.decide(db, provider.id, "renew", None, "年度复核通过", today=date(2027, 1, 1))
    assert db.get(Provider, provider.id).approved_until == date(2028, 1, 31)
    with pytest.raises(ServiceError):
        whitelist.decide(db, provider.id, "fly", None, "理由")


def test_review_page_shows_the_full_record(admin_client, db):
    provider = _provider(db, ProviderStatus.applied)
    db.add(SuccessCase(provider_id=provider.id, title="某汽配厂MES上线", industry="auto_parts", year=2024))
    db.commit()
    page = admin_client.get(f"/admin/providers/{provider.id}").get_data(as_text=True)
    assert "某汽配厂MES上线" in page and "批准入库" in page and "驳回申请" in page
    assert admin_client.get("/admin/providers/99999").status_code == 404


def test_audit_log_names_every_kind_of_action_in_chinese_and_shows_beijing_time(admin_client, db):
    from datetime import UTC, datetime

    from models import AuditLog

    stamp = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)  # 00:30 the next day in Beijing
    for action in ("whitelist.approve", "taxonomy.tag.update", "export.needs", "api_key.revoke"):
        db.add(AuditLog(action=action, target_type="x", reason="测试", created_at=stamp))
    db.commit()
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    for label in ("批准入库", "修改能力标签", "导出需求清单", "吊销 API 密钥"):
        assert label in html
    assert "2026-11-27 00:30" in html


def test_admin_home_links_every_centre_tool(admin_client):
    html = admin_client.get("/admin/").get_data(as_text=True)
    for path in ("/admin/dashboard", "/admin/import", "/admin/solutions", "/admin/dockings", "/admin/api-keys"):
        assert f'href="{path}' in html
        assert admin_client.get(path).status_code == 200
