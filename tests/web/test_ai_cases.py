"""Success cases marked as AI-enabled (人工智能赋能): the provider marks them, the whitelist review shows
them as the plan's selection criterion."""

from sqlalchemy import func
from sqlmodel import select

from models import Provider, SuccessCase
from tests.conftest import PASSWORD, login, post
from tests.web.test_provider import CASE

URL = "/provider/cases/new"


def test_a_case_is_marked_with_ai_scenarios_and_the_review_counts_them(app, provider_client, db):
    html = post(provider_client, URL, CASE | {"ai_scenarios": ["视觉质检", "炼金术"]}, page=URL).get_data(as_text=True)
    assert "不是有效的选择：&#39;炼金术&#39;" in html
    assert db.exec(select(func.count()).select_from(SuccessCase)).one() == 0
    marked = CASE | {"title": "PCB 视觉质检", "ai_scenarios": ["视觉质检", "工艺参数优化"]}
    assert post(provider_client, URL, marked, page=URL).status_code == 302
    assert post(provider_client, URL, CASE, page=URL).status_code == 302  # a case without AI stays plain
    cases = db.exec(select(SuccessCase).order_by(SuccessCase.id)).all()
    assert [c.ai_scenarios for c in cases] == [["视觉质检", "工艺参数优化"], []]
    assert "人工智能赋能：" in provider_client.get("/provider/").get_data(as_text=True)

    args = ["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", PASSWORD]
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    admin = app.test_client()
    login(admin, "admin@example.com")
    provider = db.exec(select(Provider)).one()
    review = admin.get(f"/admin/providers/{provider.id}").get_data(as_text=True)
    assert "具备人工智能赋能新型工业化成功经验" in review
    assert "标注人工智能赋能的案例 <strong>1</strong> 个，涉及：视觉质检、工艺参数优化" in review
