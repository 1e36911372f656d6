"""Publishing a need ranks the live solutions, stores the snapshot and shows it explained; the index
follows every publish, withdrawal and whitelist decision, also across app instances (workers)."""

import json
import re
import time

import numpy as np
from sqlalchemy import event, func
from sqlmodel import Session, select

from embeddings import load_encoder
from matchmaker import create_app
from matchmaker.matching.engine import doc_text
from matchmaker.matching.search_index import stored_vectors, to_doc
from matchmaker.plumbing.db import engine
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import catalogue as catalogue_service
from matchmaker.services import matching, providers, whitelist
from models import MatchResult, Need, Provider, ProviderStatus, Solution, SolutionStatus, SolutionVector
from models.schemas import SolutionWrite
from tests.conftest import credit_code, post

IOT = SolutionWrite(
    title="封边机设备联网与产量看板",
    summary="给家具厂的开料机、封边机加装数采网关，手机上看开机率和产量",
    description="PLC 与传感器数据采集，设备联网后实时看板展示每台机器的运行时长、产量和故障。",
    domain="data_collection",
    industries=["furniture"],
    sizes=["small", "medium"],
    modules=["设备数据采集网关", "产量看板", "故障报警推送"],
    tags=["设备联网"],
)
MES = SolutionWrite(
    title="汽配厂 MES 生产执行系统",
    summary="面向汽车零部件工厂的制造执行系统",
    description="工单排产、质量追溯、批次管理，满足主机厂追溯要求。",
    domain="software",
    industries=["auto_parts"],
    sizes=["medium", "large"],
    modules=["排产", "质量追溯", "批次管理"],
    tags=["MES"],
)
SECURITY = SolutionWrite(
    title="工控网络等保测评服务",
    summary="等级保护测评与整改",
    description="按等保三级要求对工厂网络开展测评，提供整改方案。",
    domain="security",
    industries=["general"],
    sizes=["micro", "small", "medium", "large"],
    modules=["差距分析", "整改方案"],
    tags=["等保测评"],
)
NEED_TEXT = "我们是家具厂，开料机和封边机都是单机，想做设备联网，在手机上看到每台机器的开机率和产量。"


def approved_provider(db: Session, serial: int, domains: list[str]) -> Provider:
    provider = Provider(
        name=f"演示数字科技{serial}",
        credit_code=credit_code(serial),
        contact_name="李经理",
        phone="13900139000",
        email=f"p{serial}@example.com",
        domains=domains,
        status=ProviderStatus.approved,
    )
    db.add(provider)
    db.commit()
    return provider


def publish(db: Session, provider: Provider, data: SolutionWrite) -> Solution:
    return providers.create_solution(db, provider.id, data, publish=True)


def catalogue(db: Session) -> dict[str, Solution]:
    iot_vendor = approved_provider(db, 901, ["data_collection", "security"])
    mes_vendor = approved_provider(db, 902, ["software"])
    return {
        "iot": publish(db, iot_vendor, IOT),
        "security": publish(db, iot_vendor, SECURITY),
        "mes": publish(db, mes_vendor, MES),
    }


def need_id_of(response) -> int:
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def test_one_click_publish_ranks_explains_and_stores_a_snapshot(enterprise_client, db):
    solutions = catalogue(db)
    response = post(
        enterprise_client,
        "/enterprise/needs/new",
        {"description": NEED_TEXT, "industry": "furniture"},
        page="/enterprise/needs/new",
    )
    assert response.status_code == 302
    need = db.get(Need, need_id_of(response))
    assert need.title == NEED_TEXT[:29] + "…"  # the first sentence, cut to 30 characters
    assert need.tags == ["设备联网"] and need.domains == ["data_collection"]  # suggested from the text

    rows = list(db.exec(select(MatchResult).where(MatchResult.need_id == need.id).order_by(MatchResult.rank)))
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].solution_id == solutions["iot"].id
    assert abs(sum(rows[0].parts.values()) - rows[0].score) < 1e-3
    assert rows[0].explanation["industry"].startswith("行业匹配")
    assert rows[0].explanation["tags"] == ["设备联网"]

    page = enterprise_client.get(response.headers["Location"]).get_data(as_text=True)
    assert page.index(IOT.title) < page.index(MES.title)
    for text in ("需求要点覆盖情况", "行业匹配", "规模匹配：小型企业", "语义相似度", "演示数字科技901"):
        assert text in page


def test_suggest_button_fills_the_form_and_writes_nothing(enterprise_client, db):
    html = post(
        enterprise_client,
        "/enterprise/needs/new",
        {"description": "注塑车间要上MES，还要做等保三级测评", "industry": "furniture", "suggest": "1"},
        page="/enterprise/needs/new",
    ).get_data(as_text=True)
    checked = set(re.findall(r'<input checked id="[^"]+" name="(\w+)" type="checkbox" value="([^"]+)"', html))
    assert checked == {("tags", "MES"), ("tags", "等保测评"), ("domains", "software"), ("domains", "security")}
    assert "已根据描述识别出服务领域和能力标签" in html
    assert db.exec(select(func.count()).select_from(Need)).one() == 0


def test_withdrawn_solutions_and_suspended_providers_drop_out_of_a_stored_ranking(enterprise_client, db):
    solutions = catalogue(db)
    response = post(
        enterprise_client,
        "/enterprise/needs/new",
        {"description": NEED_TEXT + "另外要通过等保测评，也考虑上MES。", "industry": "furniture"},
        page="/enterprise/needs/new",
    )
    need_id = need_id_of(response)
    shown = {m.solution.id for m in matching.stored_matches(db, need_id)}
    assert shown == {s.id for s in solutions.values()}

    mes, iot = solutions["mes"], solutions["iot"]
    providers.set_solution_status(db, mes.provider_id, mes.id, SolutionStatus.withdrawn)
    whitelist.decide(db, iot.provider_id, "suspend", None, "资质过期，暂停")
    assert matching.stored_matches(db, need_id) == []
    page = enterprise_client.get(f"/enterprise/needs/{need_id}").get_data(as_text=True)
    assert IOT.title not in page and MES.title not in page and "目前还没有与这条需求足够匹配的服务方案" in page


def test_two_app_instances_on_one_database_stay_in_step(app, db):
    """Two workers: what one publishes or suspends, the other ranks accordingly on its next request."""
    other = create_app(dict(app.config))
    need = matching.need_profile(
        Need(title="设备联网", description=NEED_TEXT, industry="furniture", size_class="small", enterprise_id=0)
    )
    vendor = approved_provider(db, 903, ["data_collection", "software", "security"])
    mes = publish(db, vendor, MES)
    with app.app_context():
        first = search_index().match(engine(), need)
    assert [m.solution_id for m in first] == [mes.id]

    with other.app_context():  # the other worker publishes and later suspends
        with Session(engine(), expire_on_commit=False) as session:
            iot = providers.create_solution(session, vendor.id, IOT, publish=True)
        search_index().refresh(engine())
        assert iot.id in [m.solution_id for m in search_index().match(engine(), need)]

    with app.app_context():
        assert [m.solution_id for m in search_index().match(engine(), need)][0] == iot.id

    with other.app_context(), Session(engine()) as session:
        whitelist.decide(session, vendor.id, "suspend", None, "整改期间暂停")
    with app.app_context():
        assert search_index().match(engine(), need) == []
    with other.app_context(), Session(engine()) as session:
        whitelist.decide(session, vendor.id, "reinstate", None, "整改完成")
    with app.app_context():
        assert {m.solution_id for m in search_index().match(engine(), need)} == {mes.id, iot.id}
    with other.app_context():
        engine().dispose()


def test_a_worker_looks_for_other_workers_changes_in_a_poll_thread_not_on_the_request_path(app, db):
    """With a poll interval, a request ranks from what the worker last saw and asks the database
    nothing about changes; the worker's poll thread applies another worker's publish within the
    interval; a provider another worker suspended is out of every answer at once (each caller checks
    what it shows against the database)."""
    vendor = approved_provider(db, 905, ["data_collection", "software"])
    mes = publish(db, vendor, MES)
    idle = create_app(dict(app.config, MATCHMAKER_INDEX_POLL_SECONDS=60))  # its thread has not looked yet
    busy = create_app(dict(app.config, MATCHMAKER_INDEX_POLL_SECONDS=0.2))

    def live_ids(worker) -> list[int]:
        with worker.app_context(), Session(engine()) as session:
            found = catalogue_service.match_text(session, engine(), search_index(), NEED_TEXT)
            return [m.solution.id for m in found.matches]

    assert live_ids(idle) == live_ids(busy) == [mes.id]  # built; the poll threads start
    iot = publish(db, vendor, IOT)  # by another worker: nothing tells these two
    statements = []
    with idle.app_context():
        listen = (engine(), "before_cursor_execute", lambda *args: statements.append(args[2].lower()))
        event.listen(*listen)
        assert live_ids(idle) == [mes.id]  # not looked for yet
        event.remove(*listen)
    assert statements and not any("changecounter" in statement for statement in statements)

    deadline = time.monotonic() + 5
    while live_ids(busy)[0] != iot.id:  # applied by the poll thread (within 0.2 s on a quiet machine)
        assert time.monotonic() < deadline
        time.sleep(0.05)

    whitelist.decide(db, vendor.id, "suspend", None, "整改期间暂停")  # by another worker
    assert live_ids(idle) == []  # long before its next look, yet out at once
    for worker in (idle, busy):
        with worker.app_context():
            search_index().stop_polling()
            engine().dispose()


def test_two_workers_storing_the_vector_of_a_new_solution_at_once_both_succeed(app, db):
    """The worker that saved a solution and another one catching up may both encode it before either
    has stored the vector: the later write replaces the earlier instead of failing its request."""
    iot = publish(db, approved_provider(db, 904, ["data_collection"]), IOT)
    doc, encoder = to_doc(iot), load_encoder("hash")
    with app.app_context():
        bound = engine()

    class RacedEncoder:  # the other worker stores the vector while this one is encoding
        name, dim = encoder.name, encoder.dim

        def encode(self, texts):
            with Session(bound) as other:
                stored_vectors(other, encoder, [doc])
            return encoder.encode(texts)

    with Session(bound) as session:
        vectors = stored_vectors(session, RacedEncoder(), [doc])
    assert np.allclose(vectors[0], encoder.encode([doc_text(doc)])[0])
    assert db.exec(select(func.count()).select_from(SolutionVector)).one() == 1


def test_vectors_are_stored_once_and_reused_until_the_text_changes(app, db):
    solutions = catalogue(db)
    with app.app_context():
        search_index().match(
            engine(),
            matching.need_profile(Need(title="t", description=NEED_TEXT, industry="", size_class="", enterprise_id=0)),
        )
    stored = {v.solution_id: v.text_hash for v in db.exec(select(SolutionVector))}
    assert set(stored) == {s.id for s in solutions.values()}

    iot = solutions["iot"]
    providers.update_solution(db, iot.provider_id, iot.id, IOT.model_copy(update={"summary": "新的简介文字"}))
    with app.app_context():
        search_index().refresh(engine())
    db.expire_all()
    after = {v.solution_id: v.text_hash for v in db.exec(select(SolutionVector))}
    assert after[iot.id] != stored[iot.id]
    assert {k: v for k, v in after.items() if k != iot.id} == {k: v for k, v in stored.items() if k != iot.id}


def test_reindex_command_stores_every_vector_and_an_interrupted_run_leaves_a_usable_index(app, db):
    catalogue(db)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "3 个可匹配的服务方案" in result.output
    assert db.exec(select(func.count()).select_from(SolutionVector)).one() == 3
    before = {v.solution_id: v.vector for v in db.exec(select(SolutionVector))}
    assert runner.invoke(args=["reindex", "--force"]).exit_code == 0
    db.expire_all()
    assert {v.solution_id: v.vector for v in db.exec(select(SolutionVector))} == before


def test_evaluate_command_prints_the_metrics_table_and_json(app, tmp_path):
    labelled = {
        "solutions": [
            {
                "id": "s1",
                "provider": "甲",
                "domain": "数据采集",
                "title": "设备联网数采网关",
                "description": "PLC 数据采集，设备联网",
                "industries": ["家具"],
                "sizes": [],
                "modules": ["数采网关"],
            },
            {
                "id": "s2",
                "provider": "乙",
                "domain": "工业软件与APP服务",
                "title": "MES 系统",
                "description": "工单排产与质量追溯",
                "industries": ["汽配"],
                "sizes": [],
                "modules": ["排产"],
            },
        ],
        "needs": [
            {"id": "n1", "industry": "家具", "size": "", "text": "想做设备联网和数据采集", "relevant": {"s1": 2}},
            {
                "id": "n2",
                "industry": "汽车零部件",
                "size": "中型",
                "text": "需要 MES 做排产和质量追溯",
                "relevant": {"s2": 2},
            },
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(labelled, ensure_ascii=False), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["evaluate", str(path), "--json", "--encoder", "hash"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["full"] == {"ndcg@10": 1.0, "mrr@10": 1.0, "recall@10": 1.0}
    assert set(figures["baselines"]) == {"semantic", "lexical", "structured"}
    assert "ndcg@10" in result.output.splitlines()[0]


def test_tune_weights_command_reports_held_out_figures_and_refuses_one_file(app, tmp_path):
    from tests.matching.test_evaluation import labelled_set

    first = labelled_set(tmp_path)
    second = tmp_path / "second.json"
    second.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    runner = app.test_cli_runner()
    alone = runner.invoke(args=["tune-weights", str(first), "--encoder", "hash"])
    assert alone.exit_code != 0 and "至少需要两个标注集" in alone.output
    result = runner.invoke(args=["tune-weights", str(first), str(second), "--encoder", "hash", "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "held-out folds" in result.output and "best over all needs (to adopt)" in result.output
