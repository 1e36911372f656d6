"""The JSON API: keys, error bodies, each endpoint's behaviour and who may see what."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from matchmaker.api.registry import OPERATIONS
from matchmaker.api.schemas import MatchResponse
from matchmaker.services import api_keys, ratings, whitelist
from models import ApiCallLog, ApiKey, AuditLog, Docking, MatchResult, Need
from tests.api.support import NEED_TEXT, bearer, draft_provider_solution, world
from tests.conftest import enterprise_form, login, post, register

NEED = {"description": NEED_TEXT, "industry": "furniture"}


def error_of(response, status: int) -> dict:
    """The error body, after checking the status and the body's shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["fields"], dict) and body["error"]["message"]
    return body["error"]


def concrete(rule: str) -> str:
    """The operation's URL with 1 for every id."""
    return "/api/v1" + re.sub(r"<[^>]+>", "1", rule)


@pytest.fixture
def w(db):
    return world(db)


# --- keys ----------------------------------------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_hash_is_stored(admin_client, db):
    enterprise_id = world(db).ent_a.id
    page = "/admin/api-keys"
    form = {"role": "enterprise", "enterprise_id": str(enterprise_id), "label": "区公共服务平台", "reason": "对接试点"}
    response = post(admin_client, page, form, page=page)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    token = html.split('id="issued-token" type="text" readonly value="')[1].split('"')[0]
    assert token.startswith("pmk_") and "只显示这一次" in html

    key = db.exec(select(ApiKey).where(ApiKey.label == "区公共服务平台")).one()
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.split("_")[1] == key.prefix and key.enterprise_id == enterprise_id
    assert token not in json.dumps([row.model_dump(mode="json") for row in db.exec(select(ApiKey))])
    entry = db.exec(select(AuditLog).where(AuditLog.action == "api_key.issue", AuditLog.target_id == key.id)).one()
    assert entry.reason == "对接试点" and entry.actor_id is not None

    listing = admin_client.get(page).get_data(as_text=True)
    assert key.prefix in listing and token not in listing
    assert admin_client.application.test_client().get("/api/v1/needs", headers=bearer(token)).status_code == 200


def test_issuing_needs_a_reason_and_an_owner_that_fits_the_role(admin_client, db):
    page = "/admin/api-keys"
    no_reason = post(admin_client, page, {"role": "admin", "label": "x", "reason": ""}, page=page)
    assert no_reason.status_code == 400 and "请填写签发理由" in no_reason.get_data(as_text=True)
    no_owner = post(
        admin_client, page, {"role": "enterprise", "enterprise_id": "", "label": "x", "reason": "y"}, page=page
    )
    assert no_owner.status_code == 400 and "请选择密钥所属的企业" in no_owner.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(ApiKey)).one() == 0


def test_a_revoked_key_is_refused_and_the_revocation_is_audited(admin_client, client, db):
    w = world(db)
    key = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    assert client.get("/api/v1/needs", headers=bearer(w.ent_a.token)).status_code == 200
    detail = f"/admin/api-keys/{key.id}"
    refused = post(admin_client, f"{detail}/revoke", {"reason": ""}, page=detail)
    assert refused.status_code == 400
    assert client.get("/api/v1/needs", headers=bearer(w.ent_a.token)).status_code == 200

    assert post(admin_client, f"{detail}/revoke", {"reason": "合作结束"}, page=detail).status_code == 302
    error = error_of(client.get("/api/v1/needs", headers=bearer(w.ent_a.token)), 401)
    assert error["code"] == "unauthorized" and "吊销" in error["message"]
    entry = db.exec(select(AuditLog).where(AuditLog.action == "api_key.revoke")).one()
    assert entry.target_id == key.id and entry.reason == "合作结束"
    assert "已吊销" in admin_client.get(detail).get_data(as_text=True)


def test_every_call_with_a_key_is_logged_with_the_key(client, db, w):
    client.get("/api/v1/solutions", headers=bearer(w.ent_a.token))
    client.get("/api/v1/needs/999", headers=bearer(w.ent_a.token))
    client.get("/api/v1/needs", headers=bearer(w.vendor_iot.token))
    client.get("/api/v1/needs", headers=bearer("pmk_nothing_here"))
    rows = list(db.exec(select(ApiCallLog).order_by(ApiCallLog.id)))
    key_a = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    key_p = db.exec(select(ApiKey).where(ApiKey.provider_id == w.vendor_iot.id)).one()
    assert [(r.key_id, r.method, r.path, r.status) for r in rows] == [
        (key_a.id, "GET", "/api/v1/solutions", 200),
        (key_a.id, "GET", "/api/v1/needs/999", 404),
        (key_p.id, "GET", "/api/v1/needs", 403),
    ]
    db.refresh(key_a)
    assert key_a.last_used_at is not None


def test_a_keys_last_use_is_stamped_to_the_minute(db, w):
    key = db.exec(select(ApiKey).where(ApiKey.enterprise_id == w.ent_a.id)).one()
    first = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def last_use_after_call_at(seconds: int) -> datetime:
        api_keys.log_calls(
            db, [api_keys.Call(key.id, "GET", "/api/v1/solutions", 200, first + timedelta(seconds=seconds))]
        )
        db.refresh(key)
        return key.last_used_at.replace(tzinfo=UTC)

    assert last_use_after_call_at(0) == first
    assert last_use_after_call_at(59) == first  # within the minute: the row is left alone
    assert last_use_after_call_at(61) == first + timedelta(seconds=61)
    assert db.exec(select(func.count()).select_from(ApiCallLog).where(ApiCallLog.key_id == key.id)).one() == 3


def test_only_admins_reach_the_key_pages(admin_client, app):
    assert 'href="/admin/api-keys"' in admin_client.get("/admin/").get_data(as_text=True)
    outsider = app.test_client()
    assert outsider.get("/admin/api-keys").status_code == 302  # to the login page
    assert register(outsider, "enterprise", enterprise_form(5)).status_code == 302
    assert login(outsider, "factory5@example.com").status_code == 302
    assert outsider.get("/admin/api-keys").status_code == 403


def test_a_key_can_be_issued_from_the_shell(app, client, db, w):
    runner = app.test_cli_runner()
    args = ["create-api-key", "--admin-email", w.admin.email, "--label", "脚本", "--reason", "手工契约测试"]
    result = runner.invoke(args=[*args, "--role", "enterprise", "--owner-email", "api11@example.com"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/needs", headers=bearer(token)).status_code == 200
    entry = db.exec(select(AuditLog).where(AuditLog.action == "api_key.issue", AuditLog.reason == "手工契约测试")).one()
    assert entry.actor_id == w.admin.id

    before = db.exec(select(func.count()).select_from(ApiKey)).one()
    for extra in (["--role", "provider", "--owner-email", "api11@example.com"], ["--role", "enterprise"]):
        failed = runner.invoke(args=[*args, *extra])
        assert failed.exit_code != 0 and "没有该" in failed.output
    assert runner.invoke(args=[*args, "--role", "admin", "--admin-email", "api11@example.com"]).exit_code != 0
    assert db.exec(select(func.count()).select_from(ApiKey)).one() == before


def test_tokens_are_checked_whole(db, w):
    assert api_keys.authenticate(db, w.ent_a.token) is not None
    assert api_keys.authenticate(db, w.ent_a.token[:-1]) is None
    assert api_keys.authenticate(db, w.ent_a.token + "x") is None
    assert api_keys.authenticate(db, "Bearer " + w.ent_a.token) is None


# --- authentication and error bodies -------------------------------------------------------------


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.endpoint)
def test_every_operation_refuses_a_missing_or_wrong_key(client, op):
    url = concrete(op.rule)
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, bearer("pmk_00000000_forged")):
        error = error_of(client.open(url, method=op.method, headers=headers, json={}), 401)
        assert error["code"] == "unauthorized"
    assert client.open(url, method=op.method).headers["WWW-Authenticate"].startswith("Bearer")


def test_flasks_own_errors_are_json_under_the_api_and_pages_elsewhere(client, w):
    assert error_of(client.get("/api/v1/no-such-thing"), 404)["code"] == "not_found"
    response = client.delete("/api/v1/needs", headers=bearer(w.ent_a.token))
    assert error_of(response, 405)["code"] == "method_not_allowed" and "POST" in response.headers["Allow"]
    assert error_of(client.get("/api/v1/needs/99999999999", headers=bearer(w.ent_a.token)), 404)
    assert client.get("/no-such-page").mimetype == "text/html"


def test_bad_bodies_get_chinese_errors_and_write_nothing(client, db, w):
    auth = bearer(w.ent_a.token)
    assert error_of(client.post("/api/v1/needs", headers=auth, data="{bad", content_type="application/json"), 400)
    assert error_of(client.post("/api/v1/needs", headers=auth, data="description=x"), 415)
    assert error_of(client.post("/api/v1/needs", headers=auth, json=[NEED]), 422)["message"] == "请求体须为 JSON 对象"
    short = error_of(client.post("/api/v1/needs", headers=auth, json={"description": "太短", "industry": "C21"}), 422)
    assert short["code"] == "validation_failed" and short["fields"]["description"] == "至少需要10个字符"
    typed = error_of(client.post("/api/v1/needs", headers=auth, json=NEED | {"tags": "MES"}), 422)
    assert typed["fields"] == {"tags": "须为数组"}
    month = error_of(client.post("/api/v1/needs", headers=auth, json=NEED | {"expected_start": "明年"}), 422)
    assert "年-月" in month["fields"]["expected_start"]
    unknown = error_of(client.post("/api/v1/needs", headers=auth, json=NEED | {"industry": "C99"}), 422)
    assert "未知的行业" in unknown["message"]
    for text in (NEED_TEXT + "\x00", NEED_TEXT + "\ud800"):
        raw = json.dumps(NEED | {"description": text})  # \u0000 and a lone surrogate are valid JSON escapes
        error = error_of(client.post("/api/v1/needs", headers=auth, data=raw, content_type="application/json"), 422)
        assert set(error["fields"]) == {"description"}
    assert db.exec(select(func.count()).select_from(Need)).one() == 0


def test_an_unexpected_failure_is_a_json_500(app, client, w, monkeypatch):
    from matchmaker.services import catalogue

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(catalogue, "solutions_page", broken)
    error = error_of(client.get("/api/v1/solutions", headers=bearer(w.ent_a.token)), 500)
    assert error["code"] == "internal_error" and "database" not in error["message"]


# --- needs ---------------------------------------------------------------------------------------


def test_publishing_a_need_validates_and_tags_like_the_web_form(client, db, w):
    response = client.post("/api/v1/needs", headers=bearer(w.ent_a.token), json=NEED)
    assert response.status_code == 201
    need = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/needs/{need['id']}")
    assert need["title"] == NEED_TEXT[:29] + "…"
    assert need["tags"] == ["设备联网"] and need["domains"] == ["data_collection"]
    assert need["size_class"] == "small" and need["status"] == "open"
    assert need["created_at"].endswith("+00:00") or need["created_at"].endswith("Z")
    assert db.get(Need, need["id"]).enterprise_id == w.ent_a.id

    matches = client.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(w.ent_a.token)).get_json()
    assert matches["need_id"] == need["id"]
    first = matches["items"][0]
    assert first["rank"] == 1 and first["solution"]["id"] == w.solutions["iot"].id
    assert first["solution"]["provider"]["id"] == w.vendor_iot.id
    assert abs(sum(first["parts"].values()) - first["score"]) < 1e-3
    assert first["explanation"]["tags"] == ["设备联网"] and first["explanation"]["industry"].startswith("行业匹配")
    point = next(p for p in first["explanation"]["points"] if p["point"] == "设备联网")  # a capability asked for
    assert point["covered"] and point["sentence"] and point["sentence"] in NEED_TEXT
    stored = db.exec(select(MatchResult).where(MatchResult.need_id == need["id"])).all()
    assert len(stored) == len(matches["items"])


def test_an_enterprise_key_never_reaches_another_enterprises_needs(client, w):
    a, b = bearer(w.ent_a.token), bearer(w.ent_b.token)
    need_id = client.post("/api/v1/needs", headers=a, json=NEED).get_json()["id"]
    client.post("/api/v1/needs", headers=b, json=NEED | {"industry": "auto_parts"})

    own = client.get("/api/v1/needs", headers=a).get_json()
    assert own["total"] == 1 and [n["id"] for n in own["items"]] == [need_id]
    assert client.get("/api/v1/needs", headers=b).get_json()["items"][0]["id"] != need_id
    for method, url in (
        ("GET", f"/api/v1/needs/{need_id}"),
        ("GET", f"/api/v1/needs/{need_id}/matches"),
        ("POST", f"/api/v1/needs/{need_id}/close"),
    ):
        assert error_of(client.open(url, method=method, headers=b), 404)["message"] == "需求不存在"
        for other in (w.vendor_iot.token, w.admin_token):
            assert error_of(client.open(url, method=method, headers=bearer(other)), 403)["code"] == "forbidden"
    assert client.get(f"/api/v1/needs/{need_id}", headers=a).get_json()["status"] == "open"


def test_closing_a_need_is_idempotent_and_ends_dockings(client, w):
    a = bearer(w.ent_a.token)
    need_id = client.post("/api/v1/needs", headers=a, json=NEED).get_json()["id"]
    for _ in range(2):
        response = client.post(f"/api/v1/needs/{need_id}/close", headers=a)
        assert response.status_code == 200 and response.get_json()["status"] == "closed"
    body = {"need_id": need_id, "solution_id": w.solutions["iot"].id}
    assert error_of(client.post("/api/v1/dockings", headers=a, json=body), 409)["code"] == "conflict"


def test_needs_list_paginates(client, w):
    a = bearer(w.ent_a.token)
    ids = [client.post("/api/v1/needs", headers=a, json=NEED).get_json()["id"] for _ in range(3)]
    first = client.get("/api/v1/needs?per_page=2", headers=a).get_json()
    second = client.get("/api/v1/needs?per_page=2&page=2", headers=a).get_json()
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [n["id"] for n in first["items"] + second["items"]] == ids[::-1]
    assert error_of(client.get("/api/v1/needs?per_page=500", headers=a), 422)["fields"]["per_page"] == "不能大于100"
    assert error_of(client.get("/api/v1/needs?page=x", headers=a), 422)["fields"]["page"] == "请输入整数"


# --- stateless match -----------------------------------------------------------------------------


def test_match_ranks_explains_and_stores_nothing(client, db, w):
    for token in (w.ent_a.token, w.vendor_mes.token, w.admin_token):
        response = client.post("/api/v1/match", headers=bearer(token), json={"text": NEED_TEXT, "size": "small"})
        assert response.status_code == 200
    body = response.get_json()
    assert body["items"][0]["solution"]["id"] == w.solutions["iot"].id
    assert [item["rank"] for item in body["items"]] == list(range(1, len(body["items"]) + 1))
    assert body["items"][0]["explanation"]["size"].startswith("规模匹配")
    assert body["suggestion"] == {"domains": ["data_collection"], "tags": ["设备联网"], "industry": "furniture"}
    assert db.exec(select(func.count()).select_from(MatchResult)).one() == 0
    assert db.exec(select(func.count()).select_from(Need)).one() == 0

    unknown = error_of(
        client.post("/api/v1/match", headers=bearer(w.ent_a.token), json={"text": NEED_TEXT, "industry": "X"}), 422
    )
    assert unknown["fields"] == {"industry": "未知的行业：X"}
    blank = error_of(client.post("/api/v1/match", headers=bearer(w.ent_a.token), json={"text": "   \n  "}), 422)
    assert "text" in blank["fields"]
    size = error_of(
        client.post("/api/v1/match", headers=bearer(w.ent_a.token), json={"text": NEED_TEXT, "size": "huge"}), 422
    )
    assert size["fields"] == {"size": "取值不在允许范围内"}


def test_the_match_answer_built_as_plain_data_is_exactly_what_its_schema_declares(client, db, w):
    """The view skips the response models on its hot path; this is where its answer meets them."""
    for body in ({"text": NEED_TEXT}, {"text": NEED_TEXT, "industry": "furniture", "size": "small", "top_n": 2}):
        answer = client.post("/api/v1/match", headers=bearer(w.ent_a.token), json=body).get_json()
        assert answer["items"]
        assert MatchResponse.model_validate(answer, strict=True).model_dump(mode="json") == answer


def test_match_leaves_out_providers_that_left_the_whitelist(client, db, w):
    whitelist.decide(db, w.vendor_iot.id, "suspend", w.admin.id, "资质复核期间暂停")
    body = client.post("/api/v1/match", headers=bearer(w.ent_a.token), json={"text": NEED_TEXT}).get_json()
    assert w.solutions["iot"].id not in [item["solution"]["id"] for item in body["items"]]


# --- catalogue -----------------------------------------------------------------------------------


def test_solutions_are_filtered_and_only_approved_providers_published_ones_show(client, db, w):
    hidden = draft_provider_solution(db)
    auth = bearer(w.vendor_mes.token)

    def ids(query: str = "") -> list[int]:
        response = client.get(f"/api/v1/solutions{query}", headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [s["id"] for s in response.get_json()["items"]]

    s = w.solutions
    assert ids() == [s["iot"].id, s["security"].id, s["mes"].id]
    assert ids("?domain=software") == [s["mes"].id]
    assert ids("?industry=C21") == [s["iot"].id, s["security"].id]  # furniture cluster maps onto C21; 通用 fits all
    assert ids("?industry=auto_parts") == [s["security"].id, s["mes"].id]
    assert ids("?size=large") == [s["security"].id, s["mes"].id]
    assert ids("?q=等保%20整改") == [s["security"].id]
    assert ids("?q=mes") == [s["mes"].id]  # case-insensitive
    assert ids("?q=100%25") == []  # LIKE wildcards are literal
    assert ids("?per_page=2&page=2") == [s["mes"].id]
    totals = [client.get(f"/api/v1/solutions?per_page=2&page={n}", headers=auth).get_json() for n in (1, 2, 5)]
    assert [(len(page["items"]), page["total"]) for page in totals] == [(2, 3), (1, 3), (0, 3)]  # past the end too
    assert error_of(client.get(f"/api/v1/solutions/{hidden}", headers=auth), 404)
    assert error_of(client.get("/api/v1/solutions?domain=cloud", headers=auth), 422)["fields"] == {
        "domain": "未知的服务领域：cloud"
    }

    one = client.get(f"/api/v1/solutions/{s['iot'].id}", headers=auth).get_json()
    assert one["description"].startswith("PLC") and one["provider"]["name"] == "演示数字科技901"
    whitelist.decide(db, w.vendor_iot.id, "suspend", w.admin.id, "暂停")
    assert error_of(client.get(f"/api/v1/solutions/{s['iot'].id}", headers=auth), 404)


def test_provider_directory_shows_approved_providers_with_domains_and_cases(client, db, w):
    draft_provider_solution(db)
    auth = bearer(w.ent_b.token)
    page = client.get("/api/v1/providers", headers=auth).get_json()
    assert page["total"] == 2
    first = page["items"][0]
    assert first["id"] == w.vendor_iot.id and first["domains"] == ["data_collection", "security"]
    assert [c["title"] for c in first["cases"]] == ["某家具厂设备联网"] and first["solution_count"] == 2
    assert "phone" not in first and "email" not in first
    assert [p["id"] for p in client.get("/api/v1/providers?domain=software", headers=auth).get_json()["items"]] == [
        w.vendor_mes.id
    ]
    assert client.get(f"/api/v1/providers/{w.vendor_mes.id}", headers=auth).get_json()["solution_count"] == 1
    assert (first["stars"], first["tier"], first["rating_period"]) == (None, None, None)  # not rated yet
    ratings.rate(db, "2026Q1", ratings.parse_tiers("第一梯队:4:3,第二梯队:3:1,第三梯队:1:0"))
    ratings.publish(db, "2026Q1", w.admin.id, "公布")
    rated = client.get(f"/api/v1/providers/{w.vendor_iot.id}", headers=auth).get_json()
    assert (rated["stars"], rated["tier"], rated["rating_period"]) == (3, "第三梯队", "2026Q1")  # no history: average
    whitelist.decide(db, w.vendor_mes.id, "suspend", w.admin.id, "暂停")
    assert error_of(client.get(f"/api/v1/providers/{w.vendor_mes.id}", headers=auth), 404)


def test_taxonomy_lists_the_codes(client, w):
    body = client.get("/api/v1/taxonomy", headers=bearer(w.ent_a.token)).get_json()
    assert {"code": "security", "name": "工业互联网安全服务"} in body["domains"]
    assert {"code": "general", "name": "通用", "kind": "general"} in body["industries"]
    assert {"name": "MES", "domain": "software"} in body["tags"]


# --- dockings ------------------------------------------------------------------------------------


def test_dockings_from_a_match_and_who_may_read_them(client, db, w):
    a = bearer(w.ent_a.token)
    need_id = client.post("/api/v1/needs", headers=a, json=NEED).get_json()["id"]
    iot = w.solutions["iot"].id
    response = client.post(
        "/api/v1/dockings", headers=a, json={"need_id": need_id, "solution_id": iot, "message": "请联系"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    docking = response.get_json()
    assert docking["status"] == "requested" and docking["provider_id"] == w.vendor_iot.id
    assert [e["to_status"] for e in docking["timeline"]] == ["requested"] and docking["timeline"][0]["note"] == "请联系"
    assert response.headers["Location"].endswith(f"/api/v1/dockings/{docking['id']}")
    row = db.get(Docking, docking["id"])
    assert row.enterprise_id == w.ent_a.id

    assert client.get(f"/api/v1/dockings/{docking['id']}", headers=a).get_json()["status"] == "requested"
    assert client.get(f"/api/v1/dockings/{docking['id']}", headers=bearer(w.vendor_iot.token)).status_code == 200
    assert client.get("/api/v1/dockings", headers=bearer(w.vendor_iot.token)).get_json()["total"] == 1
    for outsider in (w.ent_b.token, w.vendor_mes.token):
        assert error_of(client.get(f"/api/v1/dockings/{docking['id']}", headers=bearer(outsider)), 404)
        assert client.get("/api/v1/dockings", headers=bearer(outsider)).get_json()["total"] == 0
    assert error_of(client.get(f"/api/v1/dockings/{docking['id']}", headers=bearer(w.admin_token)), 403)
    assert error_of(client.post("/api/v1/dockings", headers=bearer(w.vendor_iot.token), json={}), 403)

    again = client.post("/api/v1/dockings", headers=a, json={"need_id": need_id, "solution_id": iot})
    assert error_of(again, 409)["message"] == "已对该方案提交过对接申请"
    other = client.post(
        "/api/v1/dockings", headers=bearer(w.ent_b.token), json={"need_id": need_id, "solution_id": iot}
    )
    assert error_of(other, 404)["fields"] == {"need_id": "需求不存在"}
    assert db.exec(select(func.count()).select_from(Docking)).one() == 1


def test_docking_only_for_a_recommended_solution(client, db, w):
    a = bearer(w.ent_a.token)
    need_id = client.post("/api/v1/needs", headers=a, json=NEED).get_json()["id"]
    hidden = draft_provider_solution(db)
    error = error_of(client.post("/api/v1/dockings", headers=a, json={"need_id": need_id, "solution_id": hidden}), 422)
    assert "不可对接" in error["message"]
    assert error_of(client.post("/api/v1/dockings", headers=a, json={"need_id": 0, "solution_id": 1}), 422)
    assert db.exec(select(func.count()).select_from(Docking)).one() == 0


# --- the contract ------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_operation_and_its_errors(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) == len(OPERATIONS) == len({op["operationId"] for _, _, op in operations})
    for path, method, op in operations:
        assert op["security"] == [{"bearerAuth": []}]
        assert {"401", "429", "500"} <= set(op["responses"]), (method, path)
        error = op["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorBody"}
        if "{" in path:
            assert "404" in op["responses"]
    assert "Retry-After" in doc["paths"]["/match"]["post"]["responses"]["429"]["headers"]
    need_schema = doc["components"]["schemas"]["NeedCreate"]
    from models.schemas import NeedCreate

    assert need_schema["properties"] == NeedCreate.model_json_schema()["properties"]  # the web form's own schema
    query = {p["name"]: p for p in doc["paths"]["/solutions"]["get"]["parameters"]}
    assert query["size"]["schema"] == {"enum": ["large", "medium", "small", "micro"], "type": "string"}
    assert query["per_page"]["schema"] == {"default": 20, "maximum": 100, "minimum": 1, "type": "integer"}


def test_the_docs_page_is_rendered_from_the_document(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert f"{method.upper()} {path}" in html and op["summary"] in html
    assert 'id="schema-NeedCreate"' in html and "Authorization: Bearer" in html
    assert "<script" not in html
