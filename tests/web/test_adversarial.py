"""An attacker's probes, driven by the URL map and the schema classes so a new route or field is probed
automatically: out-of-range integers in every path and in ?page=, hostile text in every free-text path
argument (a confirmation token), control characters and line breaks in every text field of every input
schema (forms, imports and the API validate through them), and account enumeration at registration.
"""

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import ValidationError
from werkzeug.routing import IntegerConverter

from models.schemas import Input
from models.validation import CONTROL_CHARACTER_MESSAGE, LINE_BREAK_MESSAGE

HUGE = "99999999999999999999"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))


def _probe_urls(app: Flask) -> list[tuple[str, str]]:
    """(method, url) for every rule with an int argument, each int set to HUGE, strings to "x"."""
    adapter, probes = app.url_map.bind("localhost"), []
    for rule in app.url_map.iter_rules():
        ints = {name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)}
        if not ints:
            continue
        others = rule._converters
        values = {
            name: int(HUGE) if name in ints else next(iter(getattr(others.get(name), "items", ["x"])))
            for name in rule.arguments
        }
        url = adapter.build(rule.endpoint, values)
        probes += [(method, url) for method in sorted((rule.methods or set()) & {"GET", "POST"})]
    return probes


def test_huge_integers_in_every_path_are_404(app: Flask, admin_client: FlaskClient):
    probes = _probe_urls(app)
    assert len(probes) > 20, "the probe must find the object routes"
    for method, url in probes:
        response = admin_client.open(url, method=method)
        assert response.status_code == 404, (method, url, response.status_code)


def test_huge_page_number_is_refused_on_every_page(app: Flask, admin_client: FlaskClient):
    pages = [r.rule for r in app.url_map.iter_rules() if not r.arguments and "GET" in (r.methods or ())]
    for url in pages:
        response = admin_client.get(f"{url}?page={HUGE}")
        assert response.status_code != 500, (url, response.status_code)  # /readyz may answer 503
    assert admin_client.get(f"/admin/audit?page={HUGE}").status_code == 400


@pytest.mark.parametrize("schema", sorted(_subclasses(Input), key=lambda cls: cls.__name__), ids=lambda c: c.__name__)
def test_every_text_field_refuses_control_characters_and_single_line_breaks(schema: type[Input]):
    for name, info in schema.model_fields.items():
        if info.annotation not in (str, list[str]) and "str" not in str(info.annotation):
            continue
        for bad, message in (
            ("坪山\x01\x1b[31m", CONTROL_CHARACTER_MESSAGE),
            ("坪山\r\nBcc: x@evil", LINE_BREAK_MESSAGE),
        ):
            if message == LINE_BREAK_MESSAGE and name in schema.MULTILINE:
                continue
            value = [bad] if "list" in str(info.annotation) else bad
            with pytest.raises(ValidationError) as caught:
                schema.model_validate({name: value})
            errors = {str(e["loc"][0]): str(e.get("ctx", {}).get("error", "")) for e in caught.value.errors()}
            assert errors.get(name) == message, (schema.__name__, name, errors.get(name))


def test_api_refuses_control_characters_in_a_need_title(app: Flask, db):
    from matchmaker.api.registry import _bad_text

    assert _bad_text({"title": "需求\u0001"}) and _bad_text(["\x1b[2J"]) and not _bad_text("两行\n文字")


def test_login_runs_one_password_hash_whether_or_not_the_email_has_an_account(app, db, monkeypatch):
    """An unknown email must cost what a known one costs, or the answer time tells accounts apart."""
    from werkzeug import security as hashing

    from matchmaker.services import accounts
    from models.schemas import AccountCreate

    accounts.create_admin(db, AccountCreate(email="known@example.com", password="Secret123", display_name="管理员"))
    checked = []
    real = hashing.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert accounts.authenticate(db, "known@example.com", "Wrong1234") is None
    assert accounts.authenticate(db, "nobody@example.com", "Wrong1234") is None
    assert len(checked) == 2 and checked[0].split("$")[0] == checked[1].split("$")[0]


def test_a_replayed_cookie_after_logout_reaches_no_page(app: Flask, admin_client: FlaskClient):
    """A copy of an admin's session cookie, replayed after the admin logged out, is a stranger on every
    page without arguments that needs a login (the admin's pages included)."""
    from tests.conftest import csrf_token

    stolen = admin_client.get_cookie("session").value
    pages = [r.rule for r in app.url_map.iter_rules() if not r.arguments and "GET" in (r.methods or ())]
    pages = [page for page in pages if not page.startswith("/api/")]
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    stranger = app.test_client()
    private = [page for page in pages if thief.get(page).status_code == 200 and stranger.get(page).status_code != 200]
    assert "/admin/" in private  # the copy worked before the logout

    assert admin_client.post("/auth/logout", data={"csrf_token": csrf_token(admin_client, "/")}).status_code == 302
    for page in private:
        response = thief.get(page)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], page


def _string_probes(app: Flask) -> list[tuple[str, str]]:
    """(method, url) for every rule with a free-text path argument (not an int, not a fixed choice),
    each such argument set to hostile values; int arguments set to 1."""
    adapter, probes = app.url_map.bind("localhost"), []
    hostile = ["x" * 5000, "\x00", "..%2F..%2Fetc", "%E5%9D%AA\r\nX: y", "' OR 1=1 --"]
    for rule in app.url_map.iter_rules():
        texts = [
            name
            for name, conv in rule._converters.items()
            if not isinstance(conv, IntegerConverter) and not hasattr(conv, "items") and rule.endpoint != "static"
        ]
        for value in hostile if texts else ():
            values = {name: value if name in texts else 1 for name in rule.arguments}
            url = adapter.build(rule.endpoint, values)
            probes += [(method, url) for method in sorted((rule.methods or set()) & {"GET", "POST"})]
    return probes


def test_hostile_text_in_every_free_text_path_is_never_a_500(app: Flask, admin_client: FlaskClient):
    probes = _string_probes(app)
    assert any("/auth/register/confirm/" in url for _, url in probes), "the probe must find the token routes"
    for method, url in probes:
        response = admin_client.open(url, method=method)
        assert response.status_code < 500, (method, url, response.status_code)


@pytest.mark.parametrize("role", ["enterprise", "provider"])
def test_registration_answers_alike_for_a_known_email_a_known_credit_code_and_a_new_one(app, client, db, role):
    """An attacker tries a victim's email and credit code on the registration form: the answer (status,
    redirect, the page it leads to) is the same as for new ones, and no account is made."""
    from sqlmodel import func, select

    from models import User
    from tests.conftest import credit_code, enterprise_form, post, provider_form, register

    form = enterprise_form if role == "enterprise" else provider_form
    register(client, role, form(1))  # the victim
    accounts_before = db.exec(select(func.count()).select_from(User)).one()
    answers = []
    for attempt in (form(2, email=form(1)["email"]), form(3, credit_code=credit_code(1)), form(4)):
        response = post(client, f"/auth/register/{role}", attempt, page=f"/auth/register/{role}")
        page = client.get(response.headers.get("Location", "/")).get_data(as_text=True)
        answers.append((response.status_code, response.headers.get("Location"), page))
    assert answers[0] == answers[1] == answers[2]
    assert db.exec(select(func.count()).select_from(User)).one() == accounts_before
