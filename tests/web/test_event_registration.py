"""Registration for a matchmaking event: an enterprise with its open needs, a whitelisted provider
with its published solutions, each with its free slots; changing a registration; every refusal
(closed or draft event, foreign or closed needs, unpublished solutions, providers off the
whitelist, slots outside the event, empty choices) with a Chinese message and nothing written."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import enterprises, events, whitelist
from matchmaker.services.errors import ServiceError
from models import AuditLog, EventRegistration, MatchResult, Need, NeedStatus, Provider, User
from tests.conftest import csrf_token
from tests.web.test_authz import build, snapshot


@pytest.fixture
def world(app, db):
    return build(app, db, docking=False, meeting=False)


def send(w, actor: str, url: str, data: dict):
    client = w.clients[actor]
    return client.post(url, data=data | {"csrf_token": csrf_token(client, url)})


def registrations(db) -> list[EventRegistration]:
    db.expire_all()
    return list(db.exec(select(EventRegistration).order_by(EventRegistration.id)))


def test_enterprise_and_provider_register_on_the_web_and_can_change_it(world, db):
    event_id = world.ids["event_open"]
    page = world.clients["ent_a"].get(f"/events/{event_id}").get_data(as_text=True)
    assert "带需求报名" in page
    form = world.clients["ent_a"].get(f"/events/{event_id}/register/enterprise").get_data(as_text=True)
    assert "14:00–14:20" in form and "可参加的会谈时段" in form

    url = f"/events/{event_id}/register/enterprise"
    assert send(world, "ent_a", url, {"items": [str(world.ids["need"])], "slots": ["0", "2"]}).status_code == 302
    url = f"/events/{event_id}/register/provider"
    assert send(world, "prov_a", url, {"items": [str(world.ids["iot"])], "slots": ["1", "2"]}).status_code == 302
    enterprise, provider = registrations(db)
    assert (enterprise.enterprise_id, enterprise.need_ids, enterprise.slots) == (
        world.ids["ent_a"],
        [world.ids["need"]],
        [0, 2],
    )
    assert (provider.provider_id, provider.solution_ids, provider.slots) == (
        world.ids["provider_a"],
        [world.ids["iot"]],
        [1, 2],
    )

    # changing it keeps one row and is audited as a change
    assert send(world, "prov_a", url, {"items": [str(world.ids["iot"])], "slots": ["3"]}).status_code == 302
    assert [r.slots for r in registrations(db)] == [[0, 2], [3]]
    actions = db.exec(select(AuditLog.action).where(AuditLog.target_type == "event", AuditLog.target_id == event_id))
    assert list(actions).count("event.register_update") == 1
    assert "修改报名" in world.clients["prov_a"].get(f"/events/{event_id}").get_data(as_text=True)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"slots": ["0"]}, "请至少选择一项需求"),
        ({"items": ["NEED"]}, "请至少选择一个可参加的时段"),
        ({"items": ["NEED"], "slots": ["99"]}, "所选时段不属于该活动"),
        ({"items": ["NEED"], "slots": ["1x"]}, "所选时段不属于该活动"),
        ({"items": ["NEED"], "slots": ["9" * 40]}, "所选时段不属于该活动"),
        ({"items": ["NEED"], "slots": ["0\x00"]}, "控制字符"),
    ],
)
def test_bad_registrations_get_a_400_in_chinese_and_write_nothing(world, data, message):
    data = {key: [str(world.ids["need"]) if v == "NEED" else v for v in values] for key, values in data.items()}
    before = snapshot(world.bound)
    response = send(world, "ent_a", f"/events/{world.ids['event_open']}/register/enterprise", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert snapshot(world.bound) == before


def test_registration_is_refused_once_the_event_is_closed_or_past_its_deadline(world, db):
    event_id = world.ids["event_open"]
    admin = db.exec(select(User.id).where(User.email == "authz-admin@example.com")).one()
    with pytest.raises(ServiceError, match="不接受报名"):
        events.register_enterprise(
            db,
            event_id,
            world.ids["ent_a"],
            admin,
            [world.ids["need"]],
            [0],
            now=datetime.now(UTC) + timedelta(days=25),
        )
    db.rollback()
    events.close_registration(db, event_id, admin, "名额已满")
    before = snapshot(world.bound)
    response = send(
        world, "ent_a", f"/events/{event_id}/register/enterprise", {"items": [str(world.ids["need"])], "slots": ["0"]}
    )
    assert response.status_code == 400 and "该活动当前不接受报名" in response.get_data(as_text=True)
    assert snapshot(world.bound) == before
    # a draft is not open either (and not visible to participants at all)
    draft = world.ids["event"]
    assert world.clients["ent_a"].get(f"/events/{draft}/register/enterprise").status_code == 404
    with pytest.raises(ServiceError, match="不接受报名"):
        events.register_enterprise(db, draft, world.ids["ent_a"], admin, [world.ids["need"]], [0])


def test_only_own_open_needs_and_own_published_solutions_of_whitelisted_providers(world, db):
    event_id, ids = world.ids["event_open"], world.ids
    ent_a_user = db.exec(select(User.id).where(User.email == "api11@example.com")).one()
    with pytest.raises(ServiceError, match="本企业发布中的需求"):
        events.register_enterprise(db, event_id, ids["ent_a"], ent_a_user, [ids["need_b"]], [0])
    enterprises.set_need_status(db, ids["ent_a"], ids["need"], NeedStatus.closed)
    with pytest.raises(ServiceError, match="本企业发布中的需求"):
        events.register_enterprise(db, event_id, ids["ent_a"], ent_a_user, [ids["need"]], [0])
    with pytest.raises(ServiceError, match="最多带 10 项"):
        events.register_enterprise(db, event_id, ids["ent_a"], ent_a_user, list(range(1, 12)), [0])

    provider = db.get(Provider, ids["provider_a"])
    with pytest.raises(ServiceError, match="本机构已发布的解决方案"):
        events.register_provider(db, event_id, provider.id, provider.user_id, [ids["mes"]], [0])
    with pytest.raises(ServiceError, match="不属于该活动"):
        events.register_provider(db, event_id, provider.id, provider.user_id, [ids["iot"]], [-1])
    admin = db.exec(select(User.id).where(User.email == "authz-admin@example.com")).one()
    whitelist.decide(db, provider.id, "suspend", admin, "资质复核")
    with pytest.raises(ServiceError, match="仅白名单内的服务商"):
        events.register_provider(db, event_id, provider.id, provider.user_id, [ids["iot"]], [0])
    db.rollback()
    assert db.exec(select(func.count()).select_from(EventRegistration)).one() == 0


def test_the_public_list_shows_published_events_only(world, client):
    listing = client.get("/events/").get_data(as_text=True)
    for shown in ("event_open", "event_closed"):
        assert f'href="/events/{world.ids[shown]}"' in listing
    assert f'href="/events/{world.ids["event"]}"' not in listing  # the draft is hidden
    assert client.get(f"/events/{world.ids['event_open']}").status_code == 200
    assert world.clients["admin"].get(f"/events/{world.ids['event']}").status_code == 200  # admin preview


NEW_NEED = "车间十几台封边机没有联网，产量靠人工抄表，希望加装数采网关并在看板上看到开机率和产量。"


def test_an_enterprise_posts_a_new_need_as_it_registers(world, db):
    url = f"/events/{world.ids['event_open']}/register/enterprise"
    response = send(world, "ent_b", url, {"new_need": NEW_NEED, "slots": ["0"]})
    assert response.status_code == 302
    need = db.exec(select(Need).where(Need.description == NEW_NEED)).one()
    assert need.enterprise_id == world.ids["ent_b"] and need.status == NeedStatus.open
    assert "data_collection" in need.domains  # suggested from the text, as the need form does
    assert db.exec(select(MatchResult).where(MatchResult.need_id == need.id)).first() is not None
    (registration,) = registrations(db)
    assert registration.need_ids == [need.id]


@pytest.mark.parametrize("slots, message", [([], "请至少选择一个可参加的时段"), (["0"], "")])
def test_a_refused_registration_publishes_no_new_need(world, slots, message):
    url = f"/events/{world.ids['event_open']}/register/enterprise"
    before = snapshot(world.bound)
    text = NEW_NEED if slots == [] else "太短"
    response = send(world, "ent_b", url, {"new_need": text, "slots": slots})
    assert response.status_code == 400
    assert (message or "至少") in response.get_data(as_text=True)
    assert snapshot(world.bound) == before


def test_proposals_rank_only_registered_partners_with_the_need_pages_explanation(world, db, app):
    event_id, ids = world.ids["event_open"], world.ids
    url = f"/events/{event_id}"
    send(world, "ent_a", f"{url}/register/enterprise", {"items": [str(ids["need"])], "slots": ["0", "1"]})
    page = world.clients["ent_a"].get(url).get_data(as_text=True)
    assert "暂无推荐" in page  # no provider registered yet
    send(world, "prov_a", f"{url}/register/provider", {"items": [str(ids["iot"])], "slots": ["0"]})

    with app.app_context():
        for_ent = events.proposals_for_enterprise(db, engine(), search_index(), event_id, ids["ent_a"])
        for_prov = events.proposals_for_provider(db, engine(), search_index(), event_id, ids["provider_a"])
    # the need's own ranking holds both IoT (prov_a) and MES (prov_b); only registered prov_a is proposed
    assert [(p.need.id, p.solution.id) for p in for_ent] == [(ids["need"], ids["iot"])]
    stored = db.exec(
        select(MatchResult).where(MatchResult.need_id == ids["need"], MatchResult.solution_id == ids["iot"])
    ).one()
    assert list(for_ent[0].match.explanation.as_dict()["tags"]) == stored.explanation["tags"]
    assert [(p.need.id, p.solution.id) for p in for_prov] == [(ids["need"], ids["iot"])]

    page = world.clients["ent_a"].get(url).get_data(as_text=True)
    assert "推荐洽谈对象" in page and for_ent[0].solution.title in page and "共同能力标签" in page
    assert "api11@example.com" not in world.clients["prov_a"].get(url).get_data(as_text=True)  # contacts gated

    admin = db.exec(select(User.id).where(User.email == "authz-admin@example.com")).one()
    whitelist.decide(db, ids["provider_a"], "suspend", admin, "资质复核")
    assert "暂无推荐" in world.clients["ent_a"].get(url).get_data(as_text=True)  # off the whitelist: gone
