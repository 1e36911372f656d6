"""The demo's 数字化技改项目白名单: a project at every review stage, made through the service; loading
again adds nothing."""

from datetime import date

from sqlmodel import func, select

from matchmaker.commands import seed_projects
from matchmaker.commands.seed import DEMO_ADMIN_EMAIL, load_demo
from models import Appeal, AppealStatus, ProjectEvent, ProjectStatus, RetrofitProject, User


def test_the_demo_has_a_project_at_every_stage_and_loads_once(db):
    load_demo(db)
    admin = db.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).one()
    today = date(2027, 3, 3)  # a Wednesday: the project publicised yesterday is on notice
    assert seed_projects.load(db, admin, today) == len(seed_projects.STAGES)
    statuses = set(db.exec(select(RetrofitProject.status)))
    assert statuses == {str(status) for status in ProjectStatus}
    on_notice = db.exec(select(RetrofitProject).where(RetrofitProject.status == "publicity")).one()
    assert on_notice.notice_from <= today <= on_notice.notice_until
    assert db.exec(select(Appeal).where(Appeal.project_event_id.is_not(None))).one().status == AppealStatus.pending
    events = db.exec(select(func.count()).select_from(ProjectEvent)).one()

    assert seed_projects.load(db, admin, today) == 0
    assert db.exec(select(func.count()).select_from(ProjectEvent)).one() == events
