"""Every signed-in user's own account: the password change (账号安全)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.extensions import keep_session, login_manager
from matchmaker.plumbing.security import login_throttle
from matchmaker.services import accounts
from matchmaker.services.errors import ServiceError
from matchmaker.web.forms import PasswordChangeForm, attach_service_error

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.before_request
def _require_login():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        session = get_session()
        # The current password is guessed like a login's: the same throttle counts it.
        attempt = login_throttle().admit(session, current_user.email, request.remote_addr or "unknown")
        if isinstance(attempt, str):
            form.form_errors.append(attempt)
            return render_template("account/password.html", form=form), 400
        try:
            user = accounts.change_password(session, current_user.id, form.current_password.data, form.password.data)
        except ServiceError as error:
            session.rollback()
            if error.field == "current_password":
                locked = login_throttle().failed(session, attempt)
                if locked:
                    form.form_errors.append(locked)
            attach_service_error(form, error)
        else:
            login_throttle().succeeded(session, attempt)
            keep_session(user)  # this browser stays signed in; every other session has ended
            flash("密码已修改，其他设备上的登录已退出", "success")
            return redirect(url_for("account.password"))
        return render_template("account/password.html", form=form), 400
    return render_template("account/password.html", form=form), 400 if form.is_submitted() else 200
