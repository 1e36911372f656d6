"""The rating pages: the admin adjusts (only with a reason), publishes and decides appeals; the provider
appeals once; other roles are refused; the public page shows the formula, its weights and the tiers;
the API's provider directory carries stars and tier."""

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from matchmaker.api.schemas import ProviderOut
from matchmaker.matching.fusion import RATING_PRIOR
from matchmaker.matching.signals import NeedProfile
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import api_keys, ratings
from models import Appeal, AuditLog, Notification, ProviderRating, User
from tests.conftest import PASSWORD, csrf_token, login
from tests.services.test_dockings import D, ask, drive, make_world

PERIOD = "2026Q2"


def world(app: Flask, db: Session):
    w = make_world(db, vendors=2)
    drive(db, w, ask(db, w, 0), D.completed)
    for provider in w.providers:  # so they can log in
        user = db.get(User, provider.user_id)
        user.password_hash = generate_password_hash(PASSWORD, "pbkdf2:sha256:1")
        db.add(user)
    db.commit()
    ratings.rate(db, PERIOD, ratings.parse_tiers(app.config["MATCHMAKER_TIERS"]))
    return w


def rating_of(db: Session, provider_id: int) -> ProviderRating:
    db.expire_all()
    return db.exec(select(ProviderRating).where(ProviderRating.provider_id == provider_id)).one()


def send(client: FlaskClient, url: str, data: dict, prefix: str = ""):
    token = csrf_token(client, "/")
    return client.post(url, data=data | {f"{prefix}csrf_token": token})


def test_the_admin_adjusts_only_with_a_reason_then_publishes(app, db, admin_client):
    w = world(app, db)
    rating = rating_of(db, w.providers[1].id)
    page = admin_client.get("/admin/ratings").get_data(as_text=True)
    assert PERIOD in page and w.providers[1].name in page and "公布并通知服务商" in page
    p = f"r{rating.id}-"
    refused = send(admin_client, f"/admin/ratings/{rating.id}/adjust", {p + "stars": "5", p + "reason": ""}, p)
    assert refused.status_code == 400 and "调整评级须填写理由" in refused.get_data(as_text=True)
    assert rating_of(db, w.providers[1].id).stars == rating.stars
    bad = send(admin_client, f"/admin/ratings/{rating.id}/adjust", {p + "stars": "9", p + "reason": "核实"}, p)
    assert bad.status_code == 400 and rating_of(db, w.providers[1].id).stars == rating.stars
    ok = send(admin_client, f"/admin/ratings/{rating.id}/adjust", {p + "stars": "5", p + "reason": "线下核实"}, p)
    assert ok.status_code == 302
    assert rating_of(db, w.providers[1].id).stars == 5
    assert db.exec(select(AuditLog).where(AuditLog.action == "rating.adjust")).one().reason == "线下核实"
    empty = send(admin_client, "/admin/ratings/publish", {"period": PERIOD, "reason": ""})
    assert empty.status_code == 400 and rating_of(db, w.providers[1].id).status == "computed"
    bad_period = send(admin_client, "/admin/ratings/publish", {"period": "2026-2", "reason": "公布"})
    assert bad_period.status_code == 400 and "评级周期格式应为" in bad_period.get_data(as_text=True)
    done = send(admin_client, "/admin/ratings/publish", {"period": PERIOD, "reason": "第二季度"})
    assert done.status_code == 302
    detail = admin_client.get(f"/admin/providers/{w.providers[1].id}").get_data(as_text=True)
    assert f"{PERIOD}：5 星 · {rating_of(db, w.providers[1].id).tier}" in detail  # the whitelist review shows it
    assert {rating_of(db, p.id).status for p in w.providers} == {"published"}
    notes = db.exec(select(Notification.title).where(Notification.user_id == w.providers[1].user_id)).all()
    assert any(title.startswith(f"{PERIOD} 评星结果：5 星") for title in notes)


def test_other_roles_reach_no_rating_page(app, db, client):
    w = world(app, db)
    rating = rating_of(db, w.providers[0].id)
    assert client.get("/admin/ratings").status_code == 302  # to the login
    assert login(client, "vendor500@example.com").status_code == 302
    assert client.get("/admin/ratings").status_code == 403
    refused = send(client, "/admin/ratings/publish", {"period": PERIOD, "reason": "越权公布"})
    assert refused.status_code == 403 and rating_of(db, w.providers[0].id).status == "computed"
    p = f"r{rating.id}-"
    refused = send(client, f"/admin/ratings/{rating.id}/adjust", {p + "stars": "5", p + "reason": "自评五星"}, p)
    assert refused.status_code == 403 and rating_of(db, w.providers[0].id).stars == rating.stars


def test_the_provider_appeals_once_and_the_admin_decides(app, db, admin_client):
    w = world(app, db)
    boss = db.exec(select(User).where(User.email == "admin@example.com")).one()
    ratings.publish(db, PERIOD, boss.id, "公布")
    provider = w.providers[1]
    rating = rating_of(db, provider.id)
    vendor = app.test_client()
    assert login(vendor, "vendor501@example.com", PASSWORD).status_code == 302
    page = vendor.get("/provider/ratings").get_data(as_text=True)
    assert f"{PERIOD}" in page and "对本次评级申诉" in page
    other = rating_of(db, w.providers[0].id)
    assert (
        send(vendor, f"/provider/ratings/{other.id}/appeal", {f"r{other.id}-reason": "x"}, f"r{other.id}-").status_code
        == 404
    )
    p = f"r{rating.id}-"
    empty = send(vendor, f"/provider/ratings/{rating.id}/appeal", {p + "reason": " "}, p)
    assert empty.status_code == 400 and db.exec(select(Appeal)).first() is None
    assert send(vendor, f"/provider/ratings/{rating.id}/appeal", {p + "reason": "婉拒有理由"}, p).status_code == 302
    again = send(vendor, f"/provider/ratings/{rating.id}/appeal", {p + "reason": "再来一次"}, p)
    assert again.status_code == 400 and "每次评级只能申诉一次" in again.get_data(as_text=True)
    appeal = db.exec(select(Appeal)).one()
    assert "对本次评级的申诉" in admin_client.get(f"/admin/ratings?period={PERIOD}").get_data(as_text=True)
    a = f"appeal{appeal.id}-"
    url = f"/admin/ratings/appeals/{appeal.id}/decide"
    same = send(admin_client, url, {a + "action": "upheld", a + "stars": str(rating.stars), a + "reason": "成立"}, a)
    assert same.status_code == 400 and "须给出与原评级不同的星级" in same.get_data(as_text=True)
    new = 4 if rating.stars != 4 else 5
    ok = send(admin_client, url, {a + "action": "upheld", a + "stars": str(new), a + "reason": "婉拒理由成立"}, a)
    assert ok.status_code == 302 and rating_of(db, provider.id).stars == new
    page = vendor.get("/provider/ratings").get_data(as_text=True)
    assert "申诉成立" in page and "婉拒理由成立" in page


def test_the_public_page_shows_the_formula_and_the_tiers_and_the_api_the_standing(app, db, client):
    w = world(app, db)
    page = client.get("/ratings").get_data(as_text=True)
    for name, weight in ratings.WEIGHTS.items():
        assert f"{ratings.COMPONENT_LABELS[name][0]}</td><td>{weight * 100:.0f}%" in page
    assert "第一梯队" in page and "<h3>尚未评级</h3>" in page  # nothing published yet
    boss = User(email="api-admin@example.com", password_hash="-", role="admin", display_name="管理员")
    db.add(boss)
    db.commit()
    ratings.publish(db, PERIOD, boss.id, "公布")
    rating = rating_of(db, w.providers[0].id)
    page = client.get("/ratings").get_data(as_text=True)
    assert f"{w.providers[0].name}</strong>" in page and "<h3>尚未评级</h3>" not in page
    token = api_keys.issue(db, boss.id, label="目录", reason="测试", role="admin").token
    listed = client.get("/api/v1/providers", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
    mine = next(ProviderOut.model_validate(item) for item in listed if item["id"] == w.providers[0].id)
    assert (mine.stars, mine.tier, mine.rating_period) == (rating.stars, rating.tier, PERIOD)


def test_every_worker_ranks_with_the_published_stars_once_they_are_published(app, db):
    """Publishing stamps the providers' solutions, so a running index picks up the new prior; the
    adjusted five stars of the second provider lift its solution by RATING_PRIOR / 2."""
    w = world(app, db)
    boss = User(email="index-admin@example.com", password_hash="-", role="admin", display_name="管理员")
    db.add(boss)
    db.commit()
    need = NeedProfile(text="封边机设备联网，看到开机率和产量", industry="furniture")
    with app.app_context():
        before = {m.solution_id: m for m in search_index().match(engine(), need)}
        assert {m.parts["rating"] for m in before.values()} == {0.0}
        rating = rating_of(db, w.providers[1].id)
        ratings.adjust(db, rating.id, 5, boss.id, "核实", ratings.parse_tiers(app.config["MATCHMAKER_TIERS"]))
        assert search_index().match(engine(), need)[0].parts["rating"] == 0.0  # computed: not yet in force
        ratings.publish(db, PERIOD, boss.id, "公布")
        after = {m.solution_id: m for m in search_index().match(engine(), need)}
    lifted = w.solutions[1].id
    assert after[lifted].parts["rating"] == pytest.approx(RATING_PRIOR * 0.5)
    assert after[lifted].score == pytest.approx(before[lifted].score + RATING_PRIOR * 0.5)
