"""Public pages: the landing page; the provider tiers and star ratings with their formula."""

from flask import Blueprint, current_app, render_template
from sqlalchemy import func
from sqlmodel import select

from matchmaker.plumbing.db import get_session
from matchmaker.services import ratings
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


@bp.route("/ratings")
def ratings_page():
    """The formula and its weights (评分公式), the tiers, and the whitelisted providers by tier: the
    provider directory as the newest published ratings place them."""
    session = get_session()
    listed = list(
        session.exec(select(Provider).where(Provider.status == ProviderStatus.approved).order_by(Provider.name))
    )
    standing = ratings.standing(session, [provider.id for provider in listed])
    tiers = ratings.parse_tiers(current_app.config["MATCHMAKER_TIERS"])
    by_tier: dict[str, list] = {tier.name: [] for tier in tiers}
    unrated = []
    for provider in listed:
        rating = standing.get(provider.id)
        if rating is None:
            unrated.append(provider)
        else:
            by_tier.setdefault(rating.tier, []).append((provider, rating))
    for rows in by_tier.values():
        rows.sort(key=lambda row: (-row[1].stars, row[0].name))
    return render_template(
        "public/ratings.html",
        weights=ratings.WEIGHTS,
        labels=ratings.COMPONENT_LABELS,
        cutoffs=ratings.STAR_CUTOFFS,
        tiers=tiers,
        by_tier=by_tier,
        unrated=unrated,
        neutral=ratings.NEUTRAL,
    )
