"""Control characters typed into any web form: a Chinese message on the form, and nothing written.

PostgreSQL refuses NUL in text (psycopg raised, a 500 page); SQLite stored it. The other C0 controls
but tab, LF and CR are refused too: invisible, and no spreadsheet export can write them.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlmodel import Session
from wtforms import StringField, TextAreaField

from matchmaker.web.forms import BaseForm
from models import Need, Provider, ProviderStatus
from models.validation import CONTROL_CHARACTER_MESSAGE
from tests.conftest import (
    PASSWORD,
    credit_code,
    csrf_token,
    enterprise_form,
    post,
    provider_form,
    register,
    table_snapshot,
)
from tests.services.test_import import catalogue_xlsx
from tests.web.test_enterprise import NEED
from tests.web.test_provider import CASE, SOLUTION


@dataclass(frozen=True)
class Case:
    client: str  # the fixture giving the (logged-in) client
    url: str
    data: Callable[[str], dict]  # the form's data with the bad character put into one field
    status: int  # what the route answers when its form does not validate
    page: str | None = None  # the page holding the form's CSRF token, when not `url`
    arrange: Callable[[Session], None] | None = None


def _applied_provider(db: Session) -> None:
    db.add(
        Provider(
            id=900,
            name="服务商900",
            credit_code=credit_code(900),
            contact_name="张",
            phone="13800138000",
            email="p900@example.com",
            domains=["software"],
            status=ProviderStatus.applied,
        )
    )
    db.commit()


def _import(reason: str, file_name: str = "名录.xlsx") -> dict:
    return {"reason": reason, "submit": "1", "providers": (io.BytesIO(catalogue_xlsx()), file_name)}


def _profile(bad: str) -> dict:
    data = enterprise_form(address=f"坪山大道{bad}1号")
    del data["password"], data["password_confirm"]
    return data


CASES = {
    "need publish": Case(
        "enterprise_client",
        "/enterprise/needs/new",
        lambda bad: NEED | {"description": NEED["description"].replace("运行时长", f"运行{bad}时长")},
        200,
    ),
    "need suggestion": Case(
        "enterprise_client",
        "/enterprise/needs/new",
        lambda bad: NEED | {"title": f"设备{bad}联网", "suggest": "1"},
        200,
    ),
    "enterprise registration": Case(
        "client", "/auth/register/enterprise", lambda bad: enterprise_form(name=f"测试{bad}家具厂"), 200
    ),
    "provider registration": Case(
        "client", "/auth/register/provider", lambda bad: provider_form(contact_name=f"李{bad}经理"), 200
    ),
    "enterprise profile": Case("enterprise_client", "/enterprise/profile", _profile, 200),
    "provider solution": Case(
        "provider_client",
        "/provider/solutions/new",
        lambda bad: SOLUTION | {"description": SOLUTION["description"].replace("实时上云", f"实时{bad}上云")},
        200,
    ),
    "provider case": Case("provider_client", "/provider/cases/new", lambda bad: CASE | {"client": f"坪山{bad}"}, 200),
    "admin decision reason": Case(
        "admin_client",
        "/admin/providers/900/decide",
        lambda bad: {"action": "approve", "reason": f"资料齐全{bad}案例真实"},
        400,
        page="/admin/providers/900",
        arrange=_applied_provider,
    ),
    "taxonomy edit": Case(
        "admin_client",
        "/admin/taxonomy/industries/C21",
        lambda bad: {"name": f"家具{bad}制造业", "kind": "division", "gbt": "C21", "synonyms": "", "reason": "更名"},
        400,
    ),
    "catalogue import reason": Case(
        "admin_client",
        "/admin/import",
        lambda bad: _import(f"录入{bad}名录"),
        400,
    ),
    "catalogue import file name": Case(
        "admin_client",
        "/admin/import",
        lambda bad: _import("录入名录", f"名{bad}录.xlsx"),
        400,
    ),
    "login email": Case(
        "client", "/auth/login", lambda bad: {"email": f"factory1{bad}@example.com", "password": PASSWORD}, 200
    ),
    "login password": Case(
        "client", "/auth/login", lambda bad: {"email": "factory1@example.com", "password": f"{PASSWORD}{bad}"}, 200
    ),
}


@pytest.mark.parametrize("bad", ["\x00", "\x1b"], ids=["NUL", "ESC"])
@pytest.mark.parametrize("name", list(CASES))
def test_control_character_is_refused_on_the_form(request, db, name: str, bad: str):
    case = CASES[name]
    client: FlaskClient = request.getfixturevalue(case.client)
    if case.client == "client":  # the account the login cases try
        assert register(client, "enterprise", enterprise_form()).status_code == 302
    if case.arrange:
        case.arrange(db)
    token = csrf_token(client, case.page or case.url)
    before = table_snapshot(db.get_bind())

    response = client.post(case.url, data={**case.data(bad), "csrf_token": token})

    assert response.status_code == case.status
    assert CONTROL_CHARACTER_MESSAGE in response.get_data(as_text=True)
    assert table_snapshot(db.get_bind()) == before
    if name.startswith("login"):
        assert client.get("/enterprise/").status_code == 302  # not logged in


def test_tab_and_line_breaks_are_ordinary_text(enterprise_client, db):
    description = "开料机、封边机都是单机作业，\r\n想在手机上看到每台机器的\t运行时长和产量，\n并上MES排产。"
    data = NEED | {"description": description}
    response = post(enterprise_client, "/enterprise/needs/new", data, page="/enterprise/needs/new")
    assert response.status_code == 302
    stored = db.execute(select(Need.description)).scalar_one()
    assert "\t" in stored and "\n" in stored


def test_a_new_form_is_covered_by_deriving_from_base_form(app):
    class Future(BaseForm):
        title = StringField()
        notes = TextAreaField()

    data = {"title": "a\x07b", "notes": "第一行\r\n第二行\t备注"}
    with app.test_request_context("/", method="POST", data=data):
        form = Future(meta={"csrf": False})
        assert not form.validate()
        assert form.errors == {"title": [CONTROL_CHARACTER_MESSAGE]}
