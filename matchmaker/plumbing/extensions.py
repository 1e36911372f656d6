"""Flask extensions shared by the blueprints: CSRF, the logged-in user as Flask-Login sees it, and the
worker's search index."""

from dataclasses import dataclass

from flask import Flask, current_app
from flask_login import LoginManager, UserMixin
from flask_wtf import CSRFProtect
from sqlmodel import Session, select

from matchmaker.matching.search_index import SearchIndex
from matchmaker.plumbing.db import get_session
from models import Enterprise, Provider, User

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "warning"


@dataclass(frozen=True)
class SessionUser(UserMixin):
    """A detached snapshot of the user row plus the organisation it acts for."""

    id: int
    email: str
    role: str
    display_name: str
    org_id: int | None  # enterprise.id or provider.id, by role


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    session = get_session()
    user = session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return session_user(session, user)


def session_user(session: Session, user: User) -> SessionUser:
    org_id = None
    if user.role == "enterprise":
        org_id = session.exec(select(Enterprise.id).where(Enterprise.user_id == user.id)).first()
    elif user.role == "provider":
        org_id = session.exec(select(Provider.id).where(Provider.user_id == user.id)).first()
    return SessionUser(user.id, user.email, user.role, user.display_name, org_id)


def init_search_index(app: Flask) -> None:
    app.extensions["search_index"] = SearchIndex(
        app.config["MATCHMAKER_ENCODER"], float(app.config["MATCHMAKER_INDEX_POLL_SECONDS"])
    )


def search_index() -> SearchIndex:
    """This worker's search index (built on first use, see `SearchIndex`)."""
    return current_app.extensions["search_index"]
