"""Registration (through an emailed confirmation link), login and logout, and the role guard every
role blueprint installs."""

from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, logout_user

from matchmaker.plumbing import security
from matchmaker.plumbing.db import get_session
from matchmaker.plumbing.extensions import login_manager, start_session
from matchmaker.services import accounts, password_reset, registration
from matchmaker.services.errors import ServiceError
from matchmaker.web.forms import (
    BaseForm,
    EnterpriseRegisterForm,
    ForgotPasswordForm,
    LoginForm,
    NewPasswordForm,
    ProviderRegisterForm,
    attach_service_error,
    domain_choices,
    industry_choices,
    submitted,
)
from models import Role, utcnow
from models.schemas import EnterpriseRegistration, ProviderRegistration

bp = Blueprint("auth", __name__, url_prefix="/auth")

TOKEN_MAX = 100  # a confirmation token is 43 characters; anything much longer is not one


class ConfirmForm(BaseForm):
    """Only the CSRF token: the confirmation is the button."""


HOME_BY_ROLE = {"enterprise": "enterprise.home", "provider": "provider.home", "admin": "admin.home"}


def guard_blueprint(blueprint: Blueprint, role: str) -> None:
    """Every route of `blueprint` requires a logged-in user of `role`: no route can forget the check."""

    @blueprint.before_request
    def _require_role():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role != role:
            abort(403)
        return None


def home_url() -> str:
    return url_for(HOME_BY_ROLE[current_user.role]) if current_user.is_authenticated else url_for("public.index")


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirect). Browsers drop tabs
    and line breaks from a URL and read a backslash as a slash (?next=/%09/evil.example reached the
    Location header as "//evil.example"), so a target holding any of those is refused too."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    if form.validate_on_submit():
        user, refusal = security.authenticate(form.email.data, form.password.data)  # throttled per account and IP
        if user is None:
            form.form_errors.append(refusal)
        else:
            start_session(user)
            flash(f"欢迎回来，{user.display_name}", "success")
            return redirect(_safe_next(request.args.get("next")) or home_url())
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends this session and, by raising the session version, every copy of its cookie (and the
    user's sessions on other browsers)."""
    if current_user.is_authenticated:
        accounts.end_sessions(get_session(), current_user.id)
    logout_user()
    flash("您已退出登录", "info")
    return redirect(url_for("public.index"))


RESET_SENT = "如果该邮箱已注册，我们已向它发送了重置密码的邮件，请在 {minutes} 分钟内按邮件中的链接设置新密码"


def reset_lifetime() -> timedelta:
    return timedelta(minutes=int(current_app.config["MATCHMAKER_RESET_MINUTES"]))


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """忘记密码: the same answer whether or not the email has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        password_reset.request_reset(get_session(), form.email.data, reset_lifetime())
        minutes = int(reset_lifetime().total_seconds() // 60)
        flash(RESET_SENT.format(minutes=minutes), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/reset/<string(minlength=20, maxlength=64):token>", methods=["GET", "POST"])
def reset(token: str):
    """The link from the mail: a new password twice. Not cached (the address holds the token)."""
    form = NewPasswordForm()
    status = 200
    if password_reset.open_link(get_session(), token) is None:
        form, status = None, 404
    elif form.validate_on_submit():
        try:
            password_reset.reset(get_session(), token, form.password.data)
        except ServiceError as error:
            get_session().rollback()
            attach_service_error(form, error)
        else:
            flash("密码已重置，请使用新密码登录", "success")
            return redirect(url_for("auth.login"))
    if form is not None and form.is_submitted():
        status = 400
    response = make_response(render_template("auth/reset.html", form=form, invalid=password_reset.INVALID_LINK), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _registration_ttl() -> timedelta:
    return timedelta(hours=current_app.config["MATCHMAKER_REGISTRATION_TTL_HOURS"])


def _start_registration(
    role: Role, form: EnterpriseRegisterForm | ProviderRegisterForm, data: EnterpriseRegistration | ProviderRegistration
) -> Response | None:
    """The same answer whatever the address and credit code: the mail tells the rest (see services/registration.py)."""
    try:
        registration.start(get_session(), role, data, utcnow(), _registration_ttl())
    except ServiceError as error:  # a bad industry or domain code: says nothing about accounts
        get_session().rollback()
        attach_service_error(form, error)
        return None
    return redirect(url_for("auth.register_sent"))


@bp.route("/register/enterprise", methods=["GET", "POST"])
def register_enterprise():
    form = EnterpriseRegisterForm()
    form.industry.choices = industry_choices(get_session())
    data = submitted(form, EnterpriseRegistration)
    if data and (done := _start_registration(Role.enterprise, form, data)):
        return done
    return render_template("auth/register_enterprise.html", form=form)


@bp.route("/register/provider", methods=["GET", "POST"])
def register_provider():
    form = ProviderRegisterForm()
    form.domains.choices = domain_choices(get_session())
    data = submitted(form, ProviderRegistration)
    if data and (done := _start_registration(Role.provider, form, data)):
        return done
    return render_template("auth/register_provider.html", form=form)


@bp.route("/register/sent")
def register_sent():
    return render_template("auth/register_sent.html")


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def register_confirm(token: str):
    """GET shows a button (a mail scanner that opens links spends nothing); its POST creates the account."""
    session = get_session()
    row = registration.pending(session, token, utcnow()) if len(token) <= TOKEN_MAX else None
    form = ConfirmForm()
    if row is None:
        return render_template("auth/register_confirm.html", form=None, error=registration.INVALID_LINK), 404
    if form.validate_on_submit():
        try:
            done = registration.confirm(session, token, utcnow())
        except ServiceError as error:
            session.rollback()
            return render_template("auth/register_confirm.html", form=None, error=error.message), 409
        if done.role == Role.provider:
            flash("注册成功，请登录后完善服务商资料并提交入库申请", "success")
        else:
            flash("注册成功，请登录", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/register_confirm.html", form=form, row=row, error=None)
