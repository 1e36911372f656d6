"""Meeting requests at an event: either side asks, the other accepts or declines; the caps, the
duplicates, unregistered partners and long messages are refused in Chinese with nothing written;
contact details appear only once a meeting is accepted; both sides are notified."""

import pytest
from sqlmodel import select

from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import events
from matchmaker.services.errors import ServiceError
from models import AuditLog, Event, EventMeeting, MeetingStatus, Notification, User
from tests.conftest import csrf_token
from tests.web.test_authz import CONTACT, build, snapshot


@pytest.fixture
def world(app, db):
    return build(app, db, docking=False)


def send(w, actor: str, url: str, data: dict | None = None):
    client = w.clients[actor]
    return client.post(url, data=(data or {}) | {"csrf_token": csrf_token(client, f"/events/{w.ids['event_open']}")})


def user_id(db, email: str) -> int:
    return db.exec(select(User.id).where(User.email == email)).one()


def test_accepting_shows_contacts_to_both_sides_and_notifies_the_requester(world, db):
    event_url = f"/events/{world.ids['event_open']}"
    provider_page = world.clients["prov_a"].get(event_url).get_data(as_text=True)
    assert "待答复" in provider_page and "接受" in provider_page
    assert CONTACT["phone"] not in provider_page  # gated until accepted

    response = send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/accept")
    assert response.status_code == 302
    db.expire_all()
    meeting = db.get(EventMeeting, world.ids["meeting"])
    assert meeting.status == MeetingStatus.accepted and meeting.decided_at is not None
    assert CONTACT["phone"] in world.clients["prov_a"].get(event_url).get_data(as_text=True)
    assert "13900139000" in world.clients["ent_a"].get(event_url).get_data(as_text=True)  # provider A's phone
    titles = list(db.exec(select(Notification.title).where(Notification.user_id == user_id(db, "api11@example.com"))))
    assert any("已接受您的会谈请求" in title for title in titles)
    actions = list(db.exec(select(AuditLog.action).where(AuditLog.target_type == "eventmeeting")))
    assert actions == ["event.meeting_request", "event.meeting_accepted"]

    again = send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/decline")
    assert again.status_code == 302
    assert "该会谈请求已答复" in world.clients["prov_a"].get(event_url).get_data(as_text=True)
    db.expire_all()
    assert db.get(EventMeeting, world.ids["meeting"]).status == MeetingStatus.accepted


def test_declining_notifies_and_keeps_contacts_hidden(world, db):
    assert send(world, "prov_a", f"/events/meetings/{world.ids['meeting']}/decline").status_code == 302
    db.expire_all()
    assert db.get(EventMeeting, world.ids["meeting"]).status == MeetingStatus.declined
    page = world.clients["prov_a"].get(f"/events/{world.ids['event_open']}").get_data(as_text=True)
    assert "已婉拒" in page and CONTACT["phone"] not in page


def test_a_provider_requests_and_the_enterprise_is_asked(world, db):
    url = f"/events/{world.ids['event_open']}/meetings/provider"
    data = {"need_id": str(world.ids["need_b"]), "solution_id": str(world.ids["iot"]), "message": "可现场演示"}
    assert send(world, "prov_a", url, data).status_code == 302
    db.expire_all()
    meeting = db.exec(select(EventMeeting).where(EventMeeting.need_id == world.ids["need_b"])).one()
    assert (meeting.requested_by, meeting.status, meeting.message) == ("provider", "requested", "可现场演示")
    assert meeting.score > 0  # the match score, the schedule's weight
    # the provider cannot answer its own request; the enterprise can
    assert send(world, "prov_a", f"/events/meetings/{meeting.id}/accept").status_code == 404
    assert send(world, "ent_b", f"/events/meetings/{meeting.id}/accept").status_code == 302


@pytest.mark.parametrize(
    "data, message",
    [
        ({"solution_id": "IOT"}, "已有会谈请求"),
        ({"solution_id": "HIDDEN"}, "双方都需报名本场活动"),
        ({"solution_id": "MES", "message": "长" * 201}, "留言不能超过 200 个字"),
        ({"solution_id": "MES", "cap": 1}, "您的会谈已达本场上限"),
    ],
)
def test_refused_requests_say_why_and_write_nothing(world, db, data, message):
    ids = world.ids
    if "cap" in data:
        event = db.get(Event, ids["event_open"])
        event.meeting_cap = data.pop("cap")
        db.commit()
    solution = {"IOT": ids["iot"], "HIDDEN": ids["hidden"], "MES": ids["mes"]}[data.pop("solution_id")]
    before = snapshot(world.bound)
    form = {"need_id": str(ids["need"]), "solution_id": str(solution)} | data
    assert send(world, "ent_a", f"/events/{ids['event_open']}/meetings/enterprise", form).status_code == 302
    assert message in world.clients["ent_a"].get(f"/events/{ids['event_open']}").get_data(as_text=True)
    assert snapshot(world.bound) == before


def test_garbage_ids_and_draft_events_are_not_found(world):
    url = f"/events/{world.ids['event_open']}/meetings/enterprise"
    assert send(world, "ent_a", url, {"need_id": "9" * 30, "solution_id": "1"}).status_code == 404
    assert send(world, "ent_a", url, {"need_id": "x", "solution_id": "1"}).status_code == 404
    draft = f"/events/{world.ids['event']}/meetings/enterprise"
    data = {"need_id": str(world.ids["need"]), "solution_id": str(world.ids["mes"])}
    assert send(world, "ent_a", draft, data).status_code == 404


def test_accepting_beyond_the_cap_is_refused(world, db, app):
    ids = world.ids
    event = db.get(Event, ids["event_open"])
    prov_a = user_id(db, "vendor500@example.com")
    with app.app_context():
        second = events.request_meeting(
            db,
            engine(),
            search_index(),
            event.id,
            "enterprise",
            ids["ent_b"],
            user_id(db, "api12@example.com"),
            ids["need_b"],
            ids["iot"],
            "",
        )
    events.respond_meeting(db, ids["meeting"], "provider", ids["provider_a"], prov_a, True)
    event.meeting_cap = 1
    db.commit()
    with pytest.raises(ServiceError, match="达到本场上限"):
        events.respond_meeting(db, second.id, "provider", ids["provider_a"], prov_a, True)
