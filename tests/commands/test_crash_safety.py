"""Data safety (issues 6 and 13): a worker killed with SIGKILL in the middle of a publish, a docking
transition, a reindex, a whitelist decision, a catalogue import or a restore leaves the database either
as it was before or as it is after, never in between, and the search index agrees with it. A mail
sender killed after the SMTP server accepted a mail does what services/mail.py documents.

Each test runs the operation in a child Python process on the test's database (a SQLite file, or
PostgreSQL when DATABASE_URL says so) through the real service function or CLI command. SQLAlchemy
event hooks installed by the child stop it at a chosen point (right after the statement writing a given
table, right before the COMMIT that follows, or right after it), report that over a pipe and sleep; the
test then kills it with SIGKILL and reads the database from its own process. No timing is guessed: the test waits for
the child's report (with a timeout) and kills a process that is known to be parked at that point.
"""

import dataclasses
import json
import os
import select as selectors
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlmodel import Session, col, func, select

from matchmaker.commands.backup import create_backup, restore_backup
from matchmaker.matching.engine import doc_text
from matchmaker.matching.search_index import SearchIndex, text_hash, to_doc
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import dockings, enterprises, imports, matching, publishing, whitelist
from matchmaker.services.dockings import MoveDetails, Party
from matchmaker.services.errors import ServiceError
from matchmaker.services.push import PushCaps, pushed_need_link
from models import (
    AuditLog,
    Docking,
    DockingEvent,
    DockingStatus,
    MailStatus,
    MatchResult,
    Need,
    Notification,
    OutboxMail,
    Provider,
    ProviderStatus,
    PushRecord,
    Solution,
    SolutionVector,
    WhitelistEvent,
    utcnow,
)
from tests.api.support import make_admin
from tests.conftest import csrf_token, table_snapshot
from tests.matching.test_need_matching import IOT, MES, SECURITY
from tests.services.test_import import PROVIDERS, SOLUTIONS, catalogue_xlsx
from tests.services.test_mail import Inbox, free_port, start_server
from tests.services.test_push import IOT_NEED, MES_NEED, T0, make_enterprise, make_provider, make_solution

ROOT = Path(__file__).resolve().parents[2]
REPORT_TIMEOUT = 60  # seconds for a child to reach its stopping point (it takes ~2 s; CI machines are busy)
CAPS = PushCaps(threshold=0.0, per_provider_day=5, per_enterprise_day=5, per_need=3)  # the hash encoder scores low

# The child: installs the stopping point, then runs the operation described by CRASH_JOB (JSON).
CHILD = r"""
import ctypes, json, os, re, signal, sys, time
from datetime import date, datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession

import models

job = json.loads(os.environ["CRASH_JOB"])
report = os.fdopen(int(os.environ["CRASH_REPORT_FD"]), "w")
model, when, nth = job["model"], job["when"], job["nth"]
table = getattr(models, model).__tablename__ if hasattr(models, model) else None  # "Restore": no table
WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)  # rows written
seen = 0
armed = False
ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the test run (Linux)


def park(where):
    report.write(where + "\n")
    report.flush()
    time.sleep(300)  # killed here by the test
    os._exit(70)  # never reached when the test passes; leaves without committing anything


@event.listens_for(Engine, "after_cursor_execute")
def _written(_connection, _cursor, statement, _parameters, _context, _executemany):
    global seen, armed
    found = WRITE.match(statement)
    if found and found.group(1).lower() == table:  # an ORM flush's or a Core statement's write alike
        seen += 1
        if seen == nth:
            armed = True
            if when == "written":
                park(f"{model} #{nth} written, transaction open")


@event.listens_for(Engine, "commit")
def _committing(_connection):
    if armed and when == "commit":
        park(f"{model} #{nth}: right before COMMIT")


@event.listens_for(OrmSession, "after_commit")
def _committed(session):
    if armed and when == "committed" and not session.in_nested_transaction():  # not a RELEASE SAVEPOINT
        park(f"{model} #{nth}: right after COMMIT")


if job["op"] == "cli":
    import matchmaker.matching.search_index
    from flask.cli import main

    matchmaker.matching.search_index.ENCODE_BATCH = job["batch"]  # several batches from a few solutions
    sys.argv = ["flask", *job["args"]]
    main()
else:
    from sqlmodel import Session

    from matchmaker import create_app
    from matchmaker.plumbing.db import engine
    from matchmaker.plumbing.extensions import search_index
    from matchmaker.services import dockings, publishing
    from matchmaker.services.push import PushCaps
    from models import DockingStatus
    from models.schemas import NeedCreate

    app = create_app({"TESTING": True})  # DATABASE_URL, SECRET_KEY and MATCHMAKER_ENCODER=hash: environment
    with app.app_context(), Session(engine(), expire_on_commit=False) as session:
        if job["op"] == "publish":
            data = NeedCreate.model_validate(job["need"])
            caps = PushCaps(**job["caps"])
            now = datetime.fromisoformat(job["now"])
            publishing.publish_need(session, engine(), search_index(), job["enterprise_id"], data, caps=caps, now=now)
        elif job["op"] == "move":
            details = dockings.MoveDetails(
                note=job["note"],
                amount=job["amount"],
                contract_date=date.fromisoformat(job["contract_date"]) if job["contract_date"] else None,
            )
            target = DockingStatus(job["target"])
            party = dockings.Party(job["party"])
            dockings.move(session, job["docking_id"], party, job["org_id"], job["user_id"], target, details)
        elif job["op"] == "decide":
            from matchmaker.services import whitelist

            whitelist.decide(session, job["provider_id"], job["action"], job["actor_id"], job["reason"])
        elif job["op"] == "restore":
            from pathlib import Path

            from matchmaker.commands import backup

            # sqlite3's backup copied page by page, parking half-way (the restore copies in one step)
            class SteppedConnection:
                def __init__(self, connection):
                    self.connection = connection

                def backup(self, target, **_options):
                    def progress(_status, remaining, total):
                        if remaining <= total // 2:
                            park("Restore: half of the pages copied, not committed")

                    self.connection.backup(target.connection, pages=1, progress=progress)

                def close(self):
                    self.connection.close()

            class SteppedSqlite:
                def __getattr__(self, name):
                    return getattr(sqlite3, name)

                def connect(self, *args, **kwargs):
                    return SteppedConnection(sqlite3.connect(*args, **kwargs))

            import sqlite3

            if engine().dialect.name == "sqlite":
                backup.sqlite3 = SteppedSqlite()
            backup.restore_backup(engine(), Path(job["file"]), force=True)
        elif job["op"] == "import":
            from pathlib import Path

            from matchmaker.services import imports

            upload = imports.Upload(imports.PROVIDERS, "名录.xlsx", Path(job["file"]).read_bytes())
            imports.run(session, [upload], job["actor_id"], job["reason"], date.fromisoformat(job["today"]))
report.write("finished without reaching the stopping point\n")
"""


class Crasher:
    """Runs CHILD jobs and SIGKILLs them at their stopping point; kills any left over at teardown."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "MATCHMAKER_ENCODER": "hash",
            "SECRET_KEY": "test-secret",
            "MATCHMAKER_MAIL_INTERVAL": "0",
        }
        self.children: list[subprocess.Popen] = []

    def kill_at(self, job: dict, model: str, when: str, nth: int = 1) -> str:
        """Start the job, wait until it parks right after the `nth` statement writing to `model`'s
        table (`when`: "written"), right before the COMMIT that follows ("commit") or right after it
        ("committed"), then SIGKILL it. Returns where it was killed."""
        read_end, write_end = os.pipe()
        job = job | {"model": model, "when": when, "nth": nth}
        log_path = self.tmp_path / f"child-{len(self.children)}.log"
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD],
                cwd=ROOT,
                env=self.env | {"CRASH_JOB": json.dumps(job, ensure_ascii=False), "CRASH_REPORT_FD": str(write_end)},
                pass_fds=(write_end,),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.children.append(child)
        os.close(write_end)
        with os.fdopen(read_end) as reports:
            ready, _, _ = selectors.select([reports], [], [], REPORT_TIMEOUT)
            where = reports.readline().strip() if ready else ""
        if not where.startswith(model):
            child.kill()
            child.wait()
            pytest.fail(f"the child did not stop at {model} {when} #{nth} ({where!r}):\n{log_path.read_text()}")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=REPORT_TIMEOUT) == -signal.SIGKILL
        return where

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """A `flask --app matchmaker ...` command run to its end, as an operator would."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "matchmaker", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def cleanup(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()  # SIGKILL to this child's pid only
                child.wait()


@pytest.fixture
def crasher(app: Flask, tmp_path: Path):
    crasher = Crasher(tmp_path, app.config["DATABASE_URL"])
    try:
        yield crasher
    finally:
        crasher.cleanup()


# --- publish -----------------------------------------------------------------------------------


@pytest.fixture
def market(db: Session, db_engine, index):
    """An enterprise and two approved providers with one published solution each; the ranking a
    publish of IOT_NEED must store, and the providers it must be pushed to (threshold 0: both)."""
    enterprise = make_enterprise(db, 1)
    iot_vendor, mes_vendor = make_provider(db, 600), make_provider(db, 601)
    make_solution(db, iot_vendor, IOT)
    make_solution(db, mes_vendor, MES)
    profile = matching.need_profile(enterprises.new_need(db, enterprise.id, IOT_NEED))
    ranking = [m.solution_id for m in index.match(db_engine, profile)]
    assert len(ranking) == 2
    return {"enterprise": enterprise, "ranking": ranking, "pushed_to": {iot_vendor.id, mes_vendor.id}}


def publish_job(enterprise_id: int) -> dict:
    return {
        "op": "publish",
        "enterprise_id": enterprise_id,
        "need": IOT_NEED.model_dump(),
        "caps": dataclasses.asdict(CAPS),
        "now": T0.isoformat(),
    }


def published_needs(db: Session, market: dict) -> list[Need]:
    """The needs in the database, each checked to have everything a publish writes; and nothing a
    publish writes (snapshot rows, pushes, their notifications and emails) without its need."""
    db.expire_all()
    needs = list(db.exec(select(Need).order_by(col(Need.id))))
    need_ids = {need.id for need in needs}
    results = list(db.exec(select(MatchResult)))
    pushes = list(db.exec(select(PushRecord)))
    notes = list(db.exec(select(Notification).where(Notification.kind == "need_pushed")))
    mails = [mail for mail in db.exec(select(OutboxMail)) if "新需求推送" in mail.subject]
    assert {r.need_id for r in results} <= need_ids, "ranking rows of a need that is not there"
    assert {p.need_id for p in pushes} <= need_ids, "pushes of a need that is not there"
    assert sorted(note.link for note in notes) == sorted(pushed_need_link(p.id) for p in pushes)
    assert sorted(mail.body.rsplit("/", 1)[-1] for mail in mails) == sorted(str(p.id) for p in pushes)
    for need in needs:
        assert (need.tags, need.domains, need.size_class) == (IOT_NEED.tags, IOT_NEED.domains, "small")
        ranked = sorted((r for r in results if r.need_id == need.id), key=lambda r: r.rank)
        assert [r.solution_id for r in ranked] == market["ranking"], f"need {need.id} without its ranking"
        assert {p.provider_id for p in pushes if p.need_id == need.id} == market["pushed_to"], (
            f"need {need.id} without its pushes"
        )
    return needs


@pytest.mark.parametrize(
    ("model", "when"),
    [
        ("Need", "written"),  # the need row written, nothing else yet
        ("MatchResult", "written"),  # the ranking snapshot written too
        ("PushRecord", "written"),  # the first push written, its notification and email not yet
        ("Notification", "written"),  # a push's notification written
        ("Need", "commit"),  # everything written, the COMMIT about to be sent
    ],
)
def test_a_publish_killed_before_its_commit_leaves_nothing_and_can_be_redone(
    db, db_engine, index, market, crasher, model, when
):
    crasher.kill_at(publish_job(market["enterprise"].id), model, when)

    assert published_needs(db, market) == []
    for table in (MatchResult, PushRecord):
        assert db.exec(select(table)).first() is None, f"a {table.__name__} row outlived its killed publish"
    assert db.exec(select(Notification).where(Notification.kind == "need_pushed")).first() is None
    assert not [mail for mail in db.exec(select(OutboxMail)) if "新需求推送" in mail.subject]

    again = publishing.publish_need(db, db_engine, index, market["enterprise"].id, IOT_NEED, caps=CAPS, now=T0)
    assert [need.id for need in published_needs(db, market)] == [again.need.id]
    assert len(again.pushes) == 2


def test_a_publish_killed_right_after_its_commit_is_there_in_full(db, db_engine, index, market, crasher):
    crasher.kill_at(publish_job(market["enterprise"].id), "Need", "committed")

    [need] = published_needs(db, market)
    assert need.title == IOT_NEED.title

    publishing.publish_need(db, db_engine, index, market["enterprise"].id, IOT_NEED, caps=CAPS, now=T0)
    assert len(published_needs(db, market)) == 2


def test_a_push_failing_half_way_is_undone_alone_and_the_publish_stands(db, db_engine, index, market, monkeypatch):
    """The other way a publish can stop half-way: an error in its push (after a PushRecord was
    written) rolls back the push's savepoint only; the need and its ranking are committed."""

    def broken_notify(*_args, **_kwargs):
        raise RuntimeError("mail queue unavailable")

    monkeypatch.setattr("matchmaker.services.push.notify", broken_notify)
    published = publishing.publish_need(db, db_engine, index, market["enterprise"].id, IOT_NEED, caps=CAPS, now=T0)
    assert published.pushes == []
    [need] = published_needs(db, market | {"pushed_to": set()})
    assert need.id == published.need.id


# --- docking transitions -----------------------------------------------------------------------


D = DockingStatus


@pytest.fixture
def docking(db, db_engine, index):
    """A requested docking between an enterprise and a provider (both with logins), on a published need."""
    enterprise, vendor = make_enterprise(db, 1), make_provider(db, 600)
    solution = make_solution(db, vendor, IOT)
    need = publishing.publish_need(db, db_engine, index, enterprise.id, IOT_NEED).need
    requested = dockings.request_docking(db, enterprise.id, enterprise.user_id, need.id, solution.id, "请联系", cap=5)
    return {"id": requested.id, "enterprise": enterprise, "vendor": vendor}


MOVES = {  # target -> the party making it and the details it needs
    D.accepted: (Party.provider, MoveDetails()),
    D.negotiating: (Party.enterprise, MoveDetails()),
    D.contracted: (Party.enterprise, MoveDetails(amount="12.5", contract_date=date.today() - timedelta(days=2))),
}


def move(db: Session, docking: dict, target: DockingStatus) -> Docking:
    party, details = MOVES[target]
    org = docking["enterprise"] if party == Party.enterprise else docking["vendor"]
    return dockings.move(db, docking["id"], party, org.id, org.user_id, target, details)


def move_job(docking: dict, target: DockingStatus) -> dict:
    party, details = MOVES[target]
    org = docking["enterprise"] if party == Party.enterprise else docking["vendor"]
    contract_date = details.contract_date.isoformat() if isinstance(details.contract_date, date) else None
    return {
        "op": "move",
        "docking_id": docking["id"],
        "party": party.value,
        "org_id": org.id,
        "user_id": org.user_id,
        "target": target.value,
        "note": details.note,
        "amount": details.amount,
        "contract_date": contract_date,
    }


def docking_state(db: Session, docking_id: int) -> tuple[Docking, list[DockingEvent]]:
    """The docking and its timeline, checked to agree with each other and with the notifications and
    emails the moves send (one to the other party per move)."""
    db.expire_all()
    docking = db.get(Docking, docking_id)
    events = list(
        db.exec(select(DockingEvent).where(DockingEvent.docking_id == docking_id).order_by(col(DockingEvent.id)))
    )
    assert (events[0].from_status, events[0].to_status) == ("", D.requested)
    for before, after in pairwise(events):
        assert after.from_status == before.to_status, "a gap in the timeline"
    assert docking.status == events[-1].to_status, "the docking's state and its timeline disagree"
    assert (docking.contract_amount is not None) == (D.contracted in {e.to_status for e in events})
    link = dockings.link(docking_id)
    notes = list(db.exec(select(Notification).where(Notification.link == link).order_by(col(Notification.id))))
    assert len(notes) == len(events), "a move without its notification, or a notification without its move"
    for event, note in zip(events, notes, strict=True):
        assert note.user_id != event.actor_id, "a move is told to the other party"
    mails = [mail for mail in db.exec(select(OutboxMail)) if mail.body.endswith(link)]
    assert len(mails) == len(notes)
    return docking, events


@pytest.mark.parametrize(
    ("before", "target", "model", "when"),
    [
        ([], D.accepted, "DockingEvent", "written"),  # new state and timeline entry written
        ([], D.accepted, "Notification", "written"),  # the other party's notification written too
        ([], D.accepted, "Docking", "commit"),  # everything written, the COMMIT about to be sent
        ([D.accepted, D.negotiating], D.contracted, "DockingEvent", "written"),
        ([D.accepted, D.negotiating], D.contracted, "Docking", "commit"),
    ],
)
def test_a_docking_move_killed_before_its_commit_leaves_the_old_state_and_can_be_redone(
    db, docking, crasher, before, target, model, when
):
    for step in before:
        move(db, docking, step)
    old, old_events = docking_state(db, docking["id"])
    old_status, old_count = old.status, len(old_events)

    crasher.kill_at(move_job(docking, target), model, when)

    state, events = docking_state(db, docking["id"])
    assert (state.status, len(events)) == (old_status, old_count)
    move(db, docking, target)
    state, events = docking_state(db, docking["id"])
    assert (state.status, len(events)) == (target, old_count + 1)


@pytest.mark.parametrize(("before", "target"), [([], D.accepted), ([D.accepted, D.negotiating], D.contracted)])
def test_a_docking_move_killed_right_after_its_commit_is_there_in_full(db, docking, crasher, before, target):
    for step in before:
        move(db, docking, step)
    old_events = len(docking_state(db, docking["id"])[1])

    crasher.kill_at(move_job(docking, target), "Docking", "committed")

    state, events = docking_state(db, docking["id"])
    assert (state.status, len(events)) == (target, old_events + 1)
    with pytest.raises(ServiceError):  # done once: the same move again is refused
        move(db, docking, target)


# --- reindex -----------------------------------------------------------------------------------


BATCH = 3  # ENCODE_BATCH in the killed reindex: 8 solutions are 3 batches, one commit each


def _older_text(solution_id: int) -> str:
    return f"方案 {solution_id} 修改前的旧文本"


def test_a_reindex_killed_half_way_keeps_every_vector_whole_and_the_index_rebuildable(app, db, db_engine, crasher):
    enterprise, vendor = make_enterprise(db, 1), make_provider(db, 600)
    bases = [IOT, MES, SECURITY]
    for i in range(8):
        base = bases[i % 3]
        make_solution(db, vendor, base, title=f"{base.title}（{i + 1}）")
    profiles = {
        name: matching.need_profile(enterprises.new_need(db, enterprise.id, data))
        for name, data in (("iot", IOT_NEED), ("mes", MES_NEED))
    }

    def matches(index: SearchIndex) -> dict[str, list[tuple[int, float]]]:
        return {
            name: [(m.solution_id, round(m.score, 5)) for m in index.match(db_engine, p)]
            for name, p in profiles.items()
        }

    before = matches(SearchIndex(app.config["MATCHMAKER_ENCODER"]))  # stores every solution's vector
    encoder = SearchIndex(app.config["MATCHMAKER_ENCODER"]).encoder
    # Every stored vector now looks encoded from an older text, so each row tells whether the killed
    # `reindex --force` rewrote it, and whether its hash and its vector come from the same text.
    for row in db.exec(select(SolutionVector)):
        row.text_hash = text_hash(_older_text(row.solution_id))
        row.vector = encoder.encode([_older_text(row.solution_id)])[0].tobytes()
        db.add(row)
    db.commit()

    crasher.kill_at(
        {"op": "cli", "args": ["--app", "matchmaker", "reindex", "--force"], "batch": BATCH},
        "SolutionVector",
        "written",
        nth=2,  # the second batch written, not committed
    )

    db.expire_all()
    solutions = list(db.exec(select(Solution).order_by(col(Solution.id))))
    rows = {row.solution_id: row for row in db.exec(select(SolutionVector).where(SolutionVector.model == encoder.name))}
    assert sorted(rows) == [s.id for s in solutions], "a solution lost its stored vector"
    rewritten = []
    for solution in solutions:
        row, current = rows[solution.id], doc_text(to_doc(solution))
        text = current if row.text_hash == text_hash(current) else _older_text(solution.id)
        assert row.text_hash == text_hash(text)
        assert np.array_equal(np.frombuffer(row.vector, dtype=np.float32), encoder.encode([text])[0]), (
            f"solution {solution.id}: a vector stored with another text's hash"
        )
        if text == current:
            rewritten.append(solution.id)
    assert rewritten == [s.id for s in solutions[:BATCH]], "not exactly the committed first batch"

    # A worker starting now builds its index from these rows (re-encoding the rest) and ranks as before.
    assert matches(SearchIndex(app.config["MATCHMAKER_ENCODER"])) == before
    # Running the command again finishes the job.
    done = crasher.cli("reindex", "--force")
    assert done.returncode == 0, done.stderr
    assert f"索引已更新：{len(solutions)} 个可匹配的服务方案" in done.stdout
    db.expire_all()
    for row in db.exec(select(SolutionVector)):
        assert row.text_hash == text_hash(doc_text(to_doc(db.get(Solution, row.solution_id))))
    assert matches(SearchIndex(app.config["MATCHMAKER_ENCODER"])) == before


# --- whitelist decision ----------------------------------------------------------------------------


@pytest.fixture
def listed(db, db_engine, index):
    """An approved provider with a published solution that a need matches, and an admin."""
    admin = make_admin(db)
    enterprise, vendor = make_enterprise(db, 1), make_provider(db, 600)
    solution = make_solution(db, vendor, IOT)
    profile = matching.need_profile(enterprises.new_need(db, enterprise.id, IOT_NEED))
    assert [m.solution_id for m in index.match(db_engine, profile)] == [solution.id]
    return {"admin": admin, "vendor": vendor, "solution": solution, "profile": profile}


def decide_job(listed: dict) -> dict:
    return {
        "op": "decide",
        "provider_id": listed["vendor"].id,
        "action": "suspend",
        "actor_id": listed["admin"].id,
        "reason": "资质复核期间暂停",
    }


def whitelist_state(db: Session, app: Flask, db_engine, listed: dict, running_index: bool = True) -> str:
    """The provider's status, checked to agree with its history, the audit log, its notification and
    what a worker's index (a running one refreshed, and a new one) matches. After a restore only a new
    one counts: the workers are restarted (commands/backup.py)."""
    db.expire_all()
    provider = db.get(Provider, listed["vendor"].id)
    moves = list(db.exec(select(WhitelistEvent).where(WhitelistEvent.action == "suspend")))
    audits = list(db.exec(select(AuditLog).where(AuditLog.action == "whitelist.suspend")))
    notes = list(db.exec(select(Notification).where(Notification.title == "入库资格已暂停")))
    suspended = provider.status == ProviderStatus.suspended
    assert provider.status in {ProviderStatus.approved, ProviderStatus.suspended}
    assert len(moves) == len(audits) == len(notes) == int(suspended), "a decision written in part"
    expected = [] if suspended else [listed["solution"].id]
    if running_index:
        with app.app_context():
            running = search_index()
            running.refresh(db_engine)
            assert [m.solution_id for m in running.match(db_engine, listed["profile"])] == expected
    fresh = SearchIndex(app.config["MATCHMAKER_ENCODER"])
    assert [m.solution_id for m in fresh.match(db_engine, listed["profile"])] == expected
    return provider.status


@pytest.mark.parametrize(
    ("model", "when"),
    [
        ("WhitelistEvent", "written"),  # the history entry written, the status not yet
        ("Solution", "written"),  # the status changed and the solutions stamped for every worker's index
        ("AuditLog", "written"),
        ("Notification", "written"),
        ("Provider", "commit"),  # everything written, the COMMIT about to be sent
    ],
)
def test_a_whitelist_decision_killed_before_its_commit_leaves_the_provider_listed(
    app, db, db_engine, listed, crasher, model, when
):
    crasher.kill_at(decide_job(listed), model, when)

    assert whitelist_state(db, app, db_engine, listed) == ProviderStatus.approved
    whitelist.decide(db, listed["vendor"].id, "suspend", listed["admin"].id, "资质复核期间暂停")
    assert whitelist_state(db, app, db_engine, listed) == ProviderStatus.suspended


def test_a_whitelist_decision_killed_right_after_its_commit_is_there_in_full(app, db, db_engine, listed, crasher):
    crasher.kill_at(decide_job(listed), "Provider", "committed")

    assert whitelist_state(db, app, db_engine, listed) == ProviderStatus.suspended
    with pytest.raises(ServiceError):  # done once: the same decision again is refused
        whitelist.decide(db, listed["vendor"].id, "suspend", listed["admin"].id, "资质复核期间暂停")


# --- catalogue import ------------------------------------------------------------------------------


def import_job(tmp_path: Path, admin_id: int) -> dict:
    workbook = tmp_path / "名录.xlsx"
    workbook.write_bytes(catalogue_xlsx())
    return {
        "op": "import",
        "file": str(workbook),
        "actor_id": admin_id,
        "reason": "年度名录导入",
        "today": "2026-06-01",
    }


def imported(db: Session) -> tuple[int, int]:
    """(providers, solutions) in the database, checked to come with their import's audit entry and
    creation history, all or nothing."""
    db.expire_all()
    providers = db.exec(select(func.count()).select_from(Provider)).one()
    solutions = db.exec(select(func.count()).select_from(Solution)).one()
    audits = db.exec(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.catalogue")).one()
    history = db.exec(select(func.count()).select_from(WhitelistEvent).where(WhitelistEvent.action == "import")).one()
    assert (providers, solutions, audits, history) in {
        (0, 0, 0, 0),
        (len(PROVIDERS), len(SOLUTIONS), 1, len(PROVIDERS)),
    }
    return providers, solutions


@pytest.mark.parametrize(
    ("model", "when"),
    [
        ("Provider", "written"),  # the first provider written
        ("Solution", "written"),  # every provider and the first solution written
        ("AuditLog", "written"),
        ("AuditLog", "commit"),
    ],
)
def test_an_import_killed_before_its_commit_writes_nothing_and_can_be_redone(
    app, db, db_engine, crasher, tmp_path, model, when
):
    admin = make_admin(db)
    crasher.kill_at(import_job(tmp_path, admin.id), model, when)

    assert imported(db) == (0, 0)
    fresh = SearchIndex(app.config["MATCHMAKER_ENCODER"])
    assert (
        fresh.match(db_engine, matching.need_profile(enterprises.new_need(db, make_enterprise(db, 1).id, IOT_NEED)))
        == []
    )
    upload = imports.Upload(imports.PROVIDERS, "名录.xlsx", catalogue_xlsx())
    assert imports.run(db, [upload], admin.id, "年度名录导入", date(2026, 6, 1)).written
    assert imported(db) == (len(PROVIDERS), len(SOLUTIONS))


def test_an_import_killed_right_after_its_commit_is_there_in_full_and_matches(app, db, db_engine, crasher, tmp_path):
    admin = make_admin(db)
    crasher.kill_at(import_job(tmp_path, admin.id), "AuditLog", "committed")

    assert imported(db) == (len(PROVIDERS), len(SOLUTIONS))
    profile = matching.need_profile(enterprises.new_need(db, make_enterprise(db, 1).id, IOT_NEED))
    titles = {
        db.get(Solution, m.solution_id).title
        for m in SearchIndex(app.config["MATCHMAKER_ENCODER"]).match(db_engine, profile)
    }
    assert "封边机设备联网与产量看板" in titles  # an imported, approved provider's solution matches at once


# --- restore ---------------------------------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgresql"), reason="SQLite's page copy")
def test_a_restore_killed_half_way_leaves_the_database_as_it_was(app, db, db_engine, listed, crasher, tmp_path):
    """The restore replaces the file's pages inside one write transaction of the target: killed with
    half of them copied, the database is exactly what it was (and whole), and the index agrees; the
    restore run again brings the backup's state."""
    path = tmp_path / "listed.backup"
    create_backup(db_engine, path, app.config["MATCHMAKER_ENCODER"])  # the provider listed
    whitelist.decide(db, listed["vendor"].id, "suspend", listed["admin"].id, "资质复核期间暂停")  # then suspended
    db.close()
    before = table_snapshot(db_engine)

    crasher.kill_at({"op": "restore", "file": str(path)}, "Restore", "half")

    db_engine.dispose()
    assert table_snapshot(db_engine) == before
    with db_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert whitelist_state(db, app, db_engine, listed) == ProviderStatus.suspended

    db.close()  # its read locks would hold up pg_restore's DROP TABLE
    restore_backup(db_engine, path, force=True)
    assert whitelist_state(db, app, db_engine, listed, running_index=False) == ProviderStatus.approved


def watching(db_engine):
    """A connection outside any transaction: pg_stat_activity is read afresh by each statement."""
    return db_engine.connect().execution_options(isolation_level="AUTOCOMMIT")


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"), reason="pg_restore")
def test_a_postgres_restore_killed_half_way_leaves_the_database_as_it_was(
    app, db, db_engine, listed, crasher, tmp_path
):
    """pg_restore runs as one transaction: the test holds a lock on one table so the restore stops at
    it with other tables already dropped inside its transaction, kills the restore (the flask process
    and pg_restore, its process group), lets go, and finds the database as it was."""
    path = tmp_path / "listed.backup"
    create_backup(db_engine, path, app.config["MATCHMAKER_ENCODER"])
    whitelist.decide(db, listed["vendor"].id, "suspend", listed["admin"].id, "资质复核期间暂停")
    db.close()
    before = table_snapshot(db_engine)

    job = {"op": "restore", "file": str(path), "model": "Restore", "when": "never", "nth": 1}
    read_end, write_end = os.pipe()
    with db_engine.connect() as blocker, blocker.begin():
        blocker.exec_driver_sql('LOCK TABLE "need" IN ACCESS SHARE MODE')  # DROP TABLE need waits for it
        with open(tmp_path / "restore.log", "wb") as log:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD],
                cwd=ROOT,
                env=crasher.env | {"CRASH_JOB": json.dumps(job), "CRASH_REPORT_FD": str(write_end)},
                pass_fds=(write_end,),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: pg_restore is killed with it
            )
        crasher.children.append(child)
        os.close(write_end)
        os.close(read_end)
        waiting = "SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_restore' AND wait_event_type = 'Lock'"
        deadline = time.monotonic() + REPORT_TIMEOUT
        with watching(db_engine) as watcher:
            while (restoring := watcher.exec_driver_sql(waiting).scalar()) is None:
                assert child.poll() is None, (tmp_path / "restore.log").read_text()
                assert time.monotonic() < deadline, "pg_restore never reached the locked table"
                time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(timeout=REPORT_TIMEOUT) == -signal.SIGKILL
    deadline = time.monotonic() + REPORT_TIMEOUT  # the lock is released: the orphaned backend ends
    with watching(db_engine) as watcher:
        gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = %(pid)s"
        while watcher.exec_driver_sql(gone, {"pid": restoring}).scalar():
            assert time.monotonic() < deadline, "the killed restore's backend lives on"
            time.sleep(0.05)

    assert table_snapshot(db_engine) == before
    assert whitelist_state(db, app, db_engine, listed) == ProviderStatus.suspended
    db.close()  # its read locks would hold up pg_restore's DROP TABLE
    restore_backup(db_engine, path, force=True)
    assert whitelist_state(db, app, db_engine, listed, running_index=False) == ProviderStatus.approved


# --- mail: killed after the SMTP server accepted it, before it was marked sent --------------------------


def test_a_mail_sender_killed_after_the_handover_never_resends_blindly_and_a_requeue_is_the_same_mail(
    app, db, db_engine, crasher, admin_client
):
    """`flask send-mail` is killed with the server's "250 OK" in hand and the sent-mark not committed.
    The mail stays 'sending': later rounds leave it alone (the recipient may have it), the admin's
    page lists it as interrupted, and a re-queue sends the very same message: same Message-ID, Date,
    subject and body, so the receiver can drop the duplicate."""
    inbox = Inbox()
    port = free_port()
    controller = start_server(port, inbox)
    try:
        crasher.env |= {"MATCHMAKER_SMTP_HOST": "127.0.0.1", "MATCHMAKER_SMTP_PORT": str(port)}
        mail = OutboxMail(to_address="factory@example.com", subject="对接申请已被接受", body="您好，请登录查看。")
        db.add(mail)
        db.commit()
        mail_id = mail.id

        where = crasher.kill_at(
            {"op": "cli", "args": ["--app", "matchmaker", "send-mail"], "batch": 64},
            "OutboxMail",
            "written",
            nth=2,  # 1: the claim (committed, 'sending'); 2: the sent-mark, written but not committed
        )
        assert "OutboxMail #2" in where
        [(_, first)] = inbox.messages  # the server has it
        db.expire_all()
        kept = db.get(OutboxMail, mail_id)
        assert (kept.status, kept.attempts, kept.sent_at) == (MailStatus.sending, 1, None)

        # the claim runs out (as after its backoff): the next rounds still do not send it again
        kept.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.add(kept)
        db.commit()
        for _ in range(2):
            result = crasher.cli("send-mail")
            assert result.returncode == 0, result.stderr
        assert len(inbox.messages) == 1

        page = admin_client.get("/admin/mail").get_data(as_text=True)
        assert f'id="mail-{mail_id}"' in page and "发送中断（可能已送达）" in page
        token = csrf_token(admin_client, "/admin/mail")
        response = admin_client.post(
            f"/admin/mail/{mail_id}/requeue", data={"reason": "收件人称未收到", "csrf_token": token}
        )
        assert response.status_code == 302
        result = crasher.cli("send-mail")
        assert result.returncode == 0, result.stderr
        assert len(inbox.messages) == 2
    finally:
        controller.stop()
    [(_, second)] = inbox.messages[1:]
    for header in ("Message-ID", "Date", "Subject", "From", "To"):
        assert second[header] == first[header], header
    assert second.get_content() == first.get_content()
    assert first["Message-ID"].strip().startswith(f"<outbox.{mail_id}.")  # folded: a long header
    db.expire_all()
    done = db.get(OutboxMail, mail_id)
    assert (done.status, done.attempts) == (MailStatus.sent, 1)
    assert db.exec(select(AuditLog).where(AuditLog.action == "mail.requeue")).one().reason == "收件人称未收到"
