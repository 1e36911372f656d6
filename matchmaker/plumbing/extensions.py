"""Flask extensions shared by the blueprints: CSRF, the logged-in user as Flask-Login sees it, and the
worker's search index.

A signed-in session is the signed cookie Flask keeps: it holds the user id, the user's session version
at login and when the session was last used. The cookie cannot be revoked by itself, so every request
compares its version with the user row's: logging out, changing or resetting the password and an
administrator disabling the account raise the row's version, and every cookie issued before (a copy
kept by an attacker included) then signs nobody in. A session unused for MATCHMAKER_IDLE_MINUTES ends too.
"""

import time
from dataclasses import dataclass

from flask import Flask, current_app, flash
from flask import session as cookie
from flask_login import LoginManager, UserMixin, login_user
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


VERSION_KEY = "_sv"  # the user's session version when the session began
SEEN_KEY = "_seen"  # when the session was last used (Unix seconds)
SEEN_STEP = 60  # seconds: last use is rewritten at most this often, not on every request


def start_session(user: User) -> None:
    """Sign `user` in on this browser, bound to the user's current session version."""
    login_user(session_user(get_session(), user))
    cookie[VERSION_KEY] = user.session_version
    cookie[SEEN_KEY] = int(time.time())


def keep_session(user: User) -> None:
    """After the user's own password change: this browser stays signed in at the new version."""
    cookie[VERSION_KEY] = user.session_version


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    session = get_session()
    user = session.get(User, int(user_id))
    if user is None or not user.is_active or cookie.get(VERSION_KEY) != user.session_version:
        return _ended()
    now, seen = int(time.time()), cookie.get(SEEN_KEY)
    if not isinstance(seen, int) or now - seen > int(current_app.config["MATCHMAKER_IDLE_MINUTES"]) * 60:
        return _ended("长时间未操作，已自动退出，请重新登录")
    if now - seen >= SEEN_STEP:
        cookie[SEEN_KEY] = now
    return session_user(session, user)


def _ended(message: str | None = None) -> None:
    """Forget the session's sign-in (its other contents, such as the CSRF token, stay)."""
    for key in ("_user_id", "_fresh", "_id", VERSION_KEY, SEEN_KEY):
        cookie.pop(key, None)
    if message:
        flash(message, "warning")
    return None


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
