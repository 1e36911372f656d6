"""智能制造能力成熟度 and 智能工厂 tier on the enterprise profile, a need's target level, a solution's band,
and the history row each change leaves."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from matchmaker.matching.search_index import to_doc
from matchmaker.services.matching import need_profile
from models import Enterprise, MaturityChange, Need, Solution
from models.schemas import EnterpriseProfile
from tests.conftest import enterprise_form, post, table_snapshot
from tests.web.test_enterprise import NEED
from tests.web.test_provider import SOLUTION


def _profile(**overrides) -> dict:
    data = enterprise_form(**overrides)
    data.pop("password"), data.pop("password_confirm")
    return data


def _history(db) -> list[tuple[int, int, str, str]]:
    rows = db.exec(select(MaturityChange).order_by(MaturityChange.id)).all()
    return [(r.from_level, r.to_level, r.maturity_source, r.factory_tier) for r in rows]


def test_registration_records_a_self_assessed_level_and_its_first_history_row(enterprise_client, db):
    enterprise = db.exec(select(Enterprise)).one()
    assert (enterprise.maturity_level, enterprise.maturity_source) == (2, "self")
    assert _history(db) == [(0, 2, "self", "")]
    page = enterprise_client.get("/enterprise/").get_data(as_text=True)
    assert "二级 规范级" in page and "自评估" in page and "未认定" in page


def test_an_assessed_level_needs_its_date_and_certificate_and_a_refusal_changes_nothing(
    enterprise_client, db, db_engine
):
    before = table_snapshot(db_engine)
    for missing in ({"maturity_certificate": "GBT39116-2026-001"}, {"maturity_assessed_on": "2026-06-01"}):
        data = _profile(maturity_level="3", maturity_source="assessed", **missing)
        html = post(enterprise_client, "/enterprise/profile", data, page="/enterprise/profile").get_data(as_text=True)
        assert "已评估的成熟度等级需填写评估日期和证书编号" in html
    future = (date.today() + timedelta(days=3)).isoformat()
    data = _profile(
        maturity_level="3", maturity_source="assessed", maturity_assessed_on=future, maturity_certificate="C-1"
    )
    html = post(enterprise_client, "/enterprise/profile", data, page="/enterprise/profile").get_data(as_text=True)
    assert "成熟度评估日期不能晚于今天" in html
    assert table_snapshot(db_engine) == before


def test_a_change_of_level_or_tier_leaves_a_history_row_and_an_unchanged_save_none(enterprise_client, db):
    data = _profile(
        maturity_level="3",
        maturity_source="assessed",
        maturity_assessed_on="2026-06-01",
        maturity_certificate=" GBT39116-2026-001 ",
    )
    assert post(enterprise_client, "/enterprise/profile", data, page="/enterprise/profile").status_code == 302
    assert post(enterprise_client, "/enterprise/profile", data, page="/enterprise/profile").status_code == 302
    assert _history(db) == [(0, 2, "self", ""), (2, 3, "assessed", "")]
    page = enterprise_client.get("/enterprise/").get_data(as_text=True)
    assert "三级 集成级" in page and "证书编号 GBT39116-2026-001" in page and "2026-06-01" in page

    html = post(
        enterprise_client, "/enterprise/profile", data | {"factory_tier": "advanced"}, page="/enterprise/profile"
    ).get_data(as_text=True)
    assert "请填写智能工厂的认定年份" in html
    tiered = data | {"factory_tier": "advanced", "factory_tier_year": "2025"}
    assert post(enterprise_client, "/enterprise/profile", tiered, page="/enterprise/profile").status_code == 302
    assert _history(db)[-1] == (3, 3, "assessed", "advanced")
    assert "先进级（2025 年认定）" in enterprise_client.get("/enterprise/").get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(MaturityChange)).one() == 3


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ({"maturity_level": 0, "maturity_source": "assessed", "maturity_certificate": "X"}, ("", None, "")),
        ({"maturity_level": 2, "maturity_source": "self", "maturity_certificate": "X"}, ("self", None, "")),
        ({"maturity_level": 2, "maturity_source": ""}, ("self", None, "")),
    ],
)
def test_values_that_belong_to_nothing_are_dropped(given, kept):
    data = _profile() | given
    profile = EnterpriseProfile.model_validate(data | {"email": "a@example.com"})
    assert (profile.maturity_source, profile.maturity_assessed_on, profile.maturity_certificate) == kept


def test_a_tier_that_is_not_one_of_the_four_is_refused(enterprise_client, db):
    html = post(
        enterprise_client,
        "/enterprise/profile",
        _profile(factory_tier="platinum", factory_tier_year="2025"),
        page="/enterprise/profile",
    ).get_data(as_text=True)
    assert "platinum" not in html or "不是有效的选择" in html or "请选择" in html
    assert db.exec(select(Enterprise)).one().factory_tier == ""


def test_a_need_may_state_the_level_it_aims_for_and_the_ranker_sees_it(enterprise_client, db):
    assert (
        post(
            enterprise_client, "/enterprise/needs/new", NEED | {"target_maturity": "3"}, page="/enterprise/needs/new"
        ).status_code
        == 302
    )
    need = db.exec(select(Need)).one()
    assert need.target_maturity == 3 and need_profile(need).maturity == 3
    page = enterprise_client.get(f"/enterprise/needs/{need.id}").get_data(as_text=True)
    assert "三级 集成级" in page
    html = post(
        enterprise_client, "/enterprise/needs/new", NEED | {"target_maturity": "9"}, page="/enterprise/needs/new"
    ).get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(Need)).one() == 1 and "不是有效的选择" in html


def test_a_solution_states_the_band_it_serves_and_an_unknown_band_is_refused(provider_client, db):
    url = "/provider/solutions/new"
    html = post(provider_client, url, SOLUTION | {"maturity_band": "9-9"}, page=url).get_data(as_text=True)
    assert "不是有效的选择" in html and db.exec(select(func.count()).select_from(Solution)).one() == 0
    assert post(provider_client, url, SOLUTION | {"maturity_band": "1-2"}, page=url).status_code == 302
    solution = db.exec(select(Solution)).one()
    assert solution.maturity_band == "1-2"
    assert to_doc(solution).maturity == "1-2"  # what the search index ranks by
