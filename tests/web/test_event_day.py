"""The event day and after: the printed agenda with its check-in QR code, the day-before reminder
(sent once), check-in at the door by QR code or name, attendance (held needs both sides checked in),
both sides' outcomes, the docking an outcome of 有合作意向 turns into, and the event report with its
exports and the dashboard's 活动成效 section."""

import csv
import io
import re
from datetime import timedelta

import pytest
import segno
from openpyxl import load_workbook
from sqlmodel import select

from matchmaker.services import dockings, event_day, event_report, events
from matchmaker.services.errors import ServiceError
from models import AuditLog, Docking, Event, EventMeeting, EventRegistration, Need, Notification, OutboxMail
from tests.conftest import csrf_token
from tests.web.test_authz import CONTACT, build, snapshot
from tests.web.test_event_meetings import user_id


@pytest.fixture
def world(app, db):
    return build(app, db, docking=False, held=True)


def post(w, actor: str, url: str, data: dict | None = None):
    client = w.clients[actor]
    return client.post(url, data=(data or {}) | {"csrf_token": csrf_token(client, "/")})


def flashed(w, actor: str, url: str) -> str:
    return w.clients[actor].get(url).get_data(as_text=True)


# --- the printed agenda and the reminder ---------------------------------------------------------


def test_the_printed_agenda_carries_a_qr_code_of_the_registrations_own_check_in_url(world, db, app):
    registration = db.get(EventRegistration, world.ids["registration"])
    page = world.clients["ent_a"].get(f"/events/registrations/{registration.id}/agenda")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "签到二维码" in html
    expected = f"{app.config['MATCHMAKER_BASE_URL'].rstrip('/')}/admin/checkin/{registration.checkin_token}"
    assert segno.make(expected, error="m").svg_inline(scale=4, title="签到二维码") in html
    assert len(registration.checkin_token) >= 32  # 192 random bits, URL-safe
    others = {r.checkin_token for r in db.exec(select(EventRegistration))}
    assert len(others) == len(db.exec(select(EventRegistration)).all())  # one token per registration
    assert "打印会谈日程与签到二维码" in flashed(world, "ent_a", f"/events/{world.ids['event_open']}")


def test_reminders_go_the_day_before_once_by_inbox_and_email(world, db, app):
    event = db.get(Event, world.ids["event_held"])
    today = event_day.beijing_today()
    event.event_date = today + timedelta(days=1)
    db.add(event)
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["event-reminders", "--today", today.isoformat()])
    assert first.exit_code == 0 and "4 份" in first.output, first.output
    again = runner.invoke(args=["event-reminders", "--today", today.isoformat()])
    assert "0 份" in again.output
    ent_b = user_id(db, "api12@example.com")
    notes = db.exec(select(Notification).where(Notification.user_id == ent_b, Notification.kind == "event")).all()
    assert len(notes) == 1 and "明日参会提醒" in notes[0].title
    assert "14:00–14:20 1 号桌：越权测试数字科技500" in notes[0].body  # the agenda, slot 0 of the held event
    assert notes[0].link.endswith("/agenda")
    mails = db.exec(select(OutboxMail).where(OutboxMail.to_address == "api12@example.com")).all()
    assert [m.subject for m in mails if "明日参会提醒" in m.subject]
    # the open event is a month away: nobody there was reminded
    assert all(r.reminded_at is None for r in events.registrations(db, world.ids["event_open"]))


# --- check-in ------------------------------------------------------------------------------------


def test_scanning_the_qr_code_shows_who_and_one_tap_checks_in_audited(world, db):
    registration = db.get(EventRegistration, world.ids["registration"])
    admin = world.clients["admin"]
    page = admin.get(f"/admin/checkin/{registration.checkin_token}").get_data(as_text=True)
    assert "越权测试企业11" in page and "确认签到" in page
    db.expire_all()
    assert db.get(EventRegistration, registration.id).checked_in_at is None  # opening it changes nothing
    url = f"/admin/events/registrations/{registration.id}/checkin"
    assert post(world, "admin", url, {"how": "qr"}).status_code == 302
    db.expire_all()
    assert db.get(EventRegistration, registration.id).checked_in_at is not None
    entry = db.exec(select(AuditLog).where(AuditLog.action == "event.check_in")).one()
    assert entry.actor_id == user_id(db, "authz-admin@example.com") and entry.detail["how"] == "qr"

    before = snapshot(world.bound)
    post(world, "admin", url, {"how": "qr"})
    assert "已签到，无需重复签到" in flashed(world, "admin", f"/admin/events/{registration.event_id}/checkin")
    assert snapshot(world.bound) == before
    assert admin.get("/admin/checkin/not-a-token").status_code == 404
    assert world.clients["ent_a"].get(f"/admin/checkin/{registration.checkin_token}").status_code == 403


def test_the_door_finds_participants_by_name_and_checks_them_in(world, db):
    admin = world.clients["admin"]
    event_id = world.ids["event_open"]
    page = admin.get(f"/admin/events/{event_id}/checkin?q=企业12").get_data(as_text=True)
    assert "越权测试企业12" in page and "越权测试企业11" not in page and "越权测试数字科技500" not in page
    registration = events.registration_of(db, event_id, enterprise_id=world.ids["ent_b"])
    post(world, "admin", f"/admin/events/registrations/{registration.id}/checkin", {"how": "name"})
    page = admin.get(f"/admin/events/{event_id}/checkin").get_data(as_text=True)
    assert "越权测试企业12签到成功" in page and "已签到 1 / 4 家" in page


def test_held_needs_both_sides_checked_in_and_no_shows_are_marked(world, db, app):
    ids, admin_id = world.ids, user_id(db, "authz-admin@example.com")
    prov_a = user_id(db, "vendor500@example.com")
    with pytest.raises(ServiceError, match="只有已排定的会谈"):  # a request, not yet accepted and scheduled
        event_day.mark_attendance(db, ids["meeting"], admin_id, "held")
    events.respond_meeting(db, ids["meeting"], "provider", ids["provider_a"], prov_a, True)
    events.close_registration(db, ids["event_open"], admin_id, "截止")
    events.schedule(db, ids["event_open"], admin_id, time_limit=2)
    url = f"/admin/events/meetings/{ids['meeting']}"
    before = snapshot(world.bound)
    post(world, "admin", f"{url}/held")
    page = flashed(world, "admin", f"/admin/events/{ids['event_open']}/checkin")
    assert "企业、服务商尚未签到，不能登记为已举行" in page
    assert snapshot(world.bound) == before

    registration = events.registration_of(db, ids["event_open"], enterprise_id=ids["ent_a"])
    event_day.check_in(db, registration.id, admin_id, "name")
    with pytest.raises(ServiceError, match="服务商尚未签到"):
        event_day.mark_attendance(db, ids["meeting"], admin_id, "held")
    provider = events.registration_of(db, ids["event_open"], provider_id=ids["provider_a"])
    event_day.check_in(db, provider.id, admin_id, "qr")
    assert post(world, "admin", f"{url}/held").status_code == 302
    db.expire_all()
    assert db.get(EventMeeting, ids["meeting"]).attendance == "held"
    assert post(world, "admin", f"{url}/no_show").status_code == 302  # corrected before any outcome
    db.expire_all()
    assert db.get(EventMeeting, ids["meeting"]).attendance == "no_show"
    actions = db.exec(select(AuditLog.action).where(AuditLog.target_type == "eventmeeting")).all()
    assert actions[-2:] == ["event.meeting_held", "event.meeting_no_show"]


# --- outcomes and the docking that follows --------------------------------------------------------


def test_both_sides_record_outcomes_and_the_enterprise_starts_a_docking_in_one_click(world, db):
    ids = world.ids
    held = f"/events/meetings/{ids['held']}"
    assert post(world, "ent_b", f"{held}/outcome/interested").status_code == 302
    assert post(world, "prov_a", f"{held}/outcome/none").status_code == 302
    db.expire_all()
    meeting = db.get(EventMeeting, ids["held"])
    assert (meeting.enterprise_outcome, meeting.provider_outcome) == ("interested", "none")
    told = db.exec(select(Notification.title).where(Notification.user_id == user_id(db, "vendor500@example.com")))
    assert any("对方表示有合作意向" in title for title in told)
    page = flashed(world, "ent_b", f"/events/{ids['event_held']}")
    assert "一键发起对接" in page and "对方：暂无" in page
    assert "一键发起对接" not in flashed(world, "prov_a", f"/events/{ids['event_held']}")

    response = post(world, "ent_b", f"{held}/docking")
    assert response.status_code == 302 and "/dockings/" in response.headers["Location"]
    docking = db.exec(select(Docking).where(Docking.need_id == ids["need_b"])).one()
    assert (docking.origin_event_id, docking.solution_id, docking.status) == (
        ids["event_held"],
        ids["iot"],
        "requested",
    )
    # contact details stay gated as for every docking: the provider sees none until it accepts
    view = dockings.view(db, "provider", ids["provider_a"], docking.id)
    assert view.enterprise.contact is None
    # the outcome stands once a docking followed; a second click changes nothing
    before = snapshot(world.bound)
    post(world, "ent_b", f"{held}/outcome/none")
    post(world, "ent_b", f"{held}/docking")
    assert snapshot(world.bound) == before
    assert "查看由本次会谈发起的对接" in flashed(world, "ent_b", f"/events/{ids['event_held']}")


def test_a_docking_needs_a_held_meeting_with_interest_and_respects_the_cap(world, db, app):
    ids = world.ids
    before = snapshot(world.bound)
    post(world, "ent_b", f"/events/meetings/{ids['held']}/docking")  # no outcome recorded yet
    assert "请先将会谈结果登记为“有合作意向”" in flashed(world, "ent_b", f"/events/{ids['event_held']}")
    assert snapshot(world.bound) == before
    # enterprise A's need already reached the cap of dockings
    app.config["MATCHMAKER_DOCKING_CAP"] = 1
    dockings.request_docking(db, ids["ent_a"], None, ids["need"], ids["iot"], "", 5)
    before = snapshot(world.bound)
    post(world, "ent_a", f"/events/meetings/{ids['promising']}/docking")
    assert "每个需求最多向 1 家服务商申请对接" in flashed(world, "ent_a", f"/events/{ids['event_held']}")
    assert snapshot(world.bound) == before
    # an outcome before the meeting was held is refused
    with pytest.raises(ServiceError, match="登记为已举行后"):
        event_day.record_outcome(db, ids["meeting"], "enterprise", ids["ent_a"], None, "interested")
    with pytest.raises(ServiceError, match="只能对在本场活动中已举行"):
        dockings.request_docking(
            db, ids["ent_b"], None, ids["need_b"], ids["mes"], "", 5, origin_event_id=ids["event_held"]
        )


# --- the report ----------------------------------------------------------------------------------


def _signed_docking(db, ids) -> Docking:
    meeting = db.get(EventMeeting, ids["promising"])
    docking = event_day.start_docking(db, meeting.id, ids["ent_a"], None, 5)
    docking.status, docking.contract_amount = "contracted", 38.5
    db.add(docking)
    db.commit()
    return docking


def test_the_report_counts_every_stage_and_exports_them_formula_safe(world, db):
    ids = world.ids
    _signed_docking(db, ids)
    meeting = db.get(EventMeeting, ids["held"])
    meeting.attendance = "no_show"
    db.add(meeting)
    need = db.get(Need, ids["need"])
    need.title = '=HYPERLINK("http://x")'
    db.add(need)
    db.commit()
    figures = dict(event_report.figures(db, ids["event_held"]).rows())
    assert figures["报名企业"] == 2 and figures["报名服务商"] == 2 and figures["现场签到"] == 4
    assert (figures["会谈请求"], figures["已接受会谈"], figures["已举行会谈"], figures["未到场会谈"]) == (2, 2, 1, 1)
    assert (figures["发起对接"], figures["后续签约"], figures["签约金额（万元）"]) == (1, 1, 38.5)

    page = world.clients["admin"].get(f"/admin/events/{ids['event_held']}/report").get_data(as_text=True)
    assert "后续签约" in page and "38.5" in page
    url = f"/admin/events/{ids['event_held']}/report/export"
    summary = post(world, "admin", url, {"kind": "summary", "format": "csv"})
    rows = list(csv.reader(io.StringIO(summary.data.decode("utf-8-sig"))))
    assert ["未到场会谈", "1"] in rows and ["发起对接", "1"] in rows
    detail = post(world, "admin", url, {"kind": "meetings", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(detail.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == "企业" and len(cells) == 3
    promising = next(row for row in cells if row[2].endswith('HYPERLINK("http://x")'))
    assert promising[2].startswith("'=")  # a title that would be a formula is neutralised
    assert promising[10] == "已签约" and promising[11] == 38.5
    exported = db.exec(select(AuditLog.action).where(AuditLog.action.like("export.event_%"))).all()
    assert exported == ["export.event_summary", "export.event_meetings"]
    refused = post(world, "admin", url, {"kind": "everything", "format": "csv"})
    assert refused.status_code == 400


def test_the_dashboard_shows_what_events_achieved(world, db):
    _signed_docking(db, world.ids)
    event = db.get(Event, world.ids["event_held"])
    html = world.clients["admin"].get("/admin/dashboard").get_data(as_text=True)
    section = html[html.index("活动成效") :]
    row = re.search(rf"{re.escape(event.title)}</a></th>(.*?)</tr>", section, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row)[1:] == ["4", "2", "2", "2", "0", "1", "1"]


def test_an_empty_dashboard_says_so_in_one_sentence(admin_client):
    html = admin_client.get("/admin/dashboard").get_data(as_text=True)
    assert "还没有发布过对接活动。" in html


def test_contacts_of_the_held_meeting_stay_with_its_parties(world):
    page = flashed(world, "prov_b", f"/events/{world.ids['event_held']}")
    assert CONTACT["phone"] in page  # provider B met enterprise A: an accepted meeting shows contacts
    assert CONTACT["phone"] not in flashed(world, "prov_a", f"/events/{world.ids['event_held']}")
