"""Sessions that end: logging out ends every copy of the session cookie, and an idle session ends by
itself (finding 8 of issue 13). Time is moved by rewriting the session's last-use stamp, never slept."""

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from matchmaker.plumbing.extensions import SEEN_KEY, VERSION_KEY
from models import User
from tests.conftest import csrf_token, login

HOME = "/enterprise/"


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of `client`'s session cookie (as an attacker who stole it)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _signed_in(client: FlaskClient) -> bool:
    response = client.get(HOME)
    return response.status_code == 200


def test_a_copied_cookie_stops_working_after_logout(app: Flask, enterprise_client: FlaskClient):
    thief = _copy(app, enterprise_client)
    assert _signed_in(thief)  # the copy works while the owner is signed in

    response = enterprise_client.post("/auth/logout", data={"csrf_token": csrf_token(enterprise_client, HOME)})
    assert response.status_code == 302

    replayed = thief.get(HOME)
    assert replayed.status_code == 302 and "/auth/login" in replayed.headers["Location"]
    assert not _signed_in(enterprise_client)
    # signing in again starts a session at the new version
    assert login(enterprise_client, "factory1@example.com").status_code == 302
    assert _signed_in(enterprise_client) and not _signed_in(thief)


def test_logging_out_raises_the_session_version(app: Flask, enterprise_client: FlaskClient, db: Session):
    before = db.exec(select(User.session_version).where(User.email == "factory1@example.com")).one()
    enterprise_client.post("/auth/logout", data={"csrf_token": csrf_token(enterprise_client, HOME)})
    after = db.exec(select(User.session_version).where(User.email == "factory1@example.com")).one()
    assert after == before + 1


def test_a_cookie_without_a_session_version_signs_nobody_in(enterprise_client: FlaskClient):
    with enterprise_client.session_transaction() as cookie:
        del cookie[VERSION_KEY]  # as a cookie issued before versions were kept
    assert not _signed_in(enterprise_client)


def test_an_idle_session_ends(app: Flask, enterprise_client: FlaskClient):
    idle = app.config["MATCHMAKER_IDLE_MINUTES"] * 60
    assert idle == 120 * 60
    with enterprise_client.session_transaction() as cookie:
        cookie[SEEN_KEY] -= idle - 60  # used a minute short of the limit ago: still signed in
    assert _signed_in(enterprise_client)
    with enterprise_client.session_transaction() as cookie:
        refreshed = cookie[SEEN_KEY]
        cookie[SEEN_KEY] = refreshed - idle - 1  # the request above counted as use; now past the limit
    response = enterprise_client.get(HOME)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    page = enterprise_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "长时间未操作" in page
    assert not _signed_in(enterprise_client)
