"""Public pages: the landing page."""

from flask import Blueprint, render_template
from sqlalchemy import func
from sqlmodel import select

from matchmaker.plumbing.db import get_session
from models import Need, Provider, ProviderStatus, Solution, SolutionStatus

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    session = get_session()
    stats = {
        "providers": session.exec(
            select(func.count()).select_from(Provider).where(Provider.status == ProviderStatus.approved)
        ).one(),
        "solutions": session.exec(
            select(func.count())
            .select_from(Solution)
            .join(Provider)
            .where(Solution.status == SolutionStatus.published, Provider.status == ProviderStatus.approved)
        ).one(),
        "needs": session.exec(select(func.count()).select_from(Need)).one(),
    }
    return render_template("public/index.html", stats=stats)
