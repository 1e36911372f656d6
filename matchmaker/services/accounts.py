"""Accounts: creation of enterprise and provider accounts, login, administrators.

On the web a registration goes through `services.registration` (an emailed confirmation link); the
account is created here when the link is opened. `register_enterprise` / `register_provider` create
at once, for the seed, the command line and tests."""

from sqlalchemy import func, update
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from matchmaker.services import audit, enterprises, taxonomy
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import notify
from models import Enterprise, Provider, Role, User
from models.schemas import (
    AccountCreate,
    EnterpriseProfile,
    EnterpriseRegistration,
    ProviderProfile,
    ProviderRegistration,
)
from models.validation import password_error, size_class

ACCOUNT_KIND = "account"  # the notification kind of changes to one's own account


def _normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def email_taken(session: Session, email: str) -> bool:
    return session.exec(select(User.id).where(func.lower(User.email) == _normalise_email(email))).first() is not None


def credit_code_taken(session: Session, role: Role, code: str) -> bool:
    table = Enterprise if role == Role.enterprise else Provider
    return session.exec(select(table.id).where(table.credit_code == code)).first() is not None


def _new_user(session: Session, email: str, password_hash: str, role: Role, display_name: str) -> User:
    if email_taken(session, email):
        raise ServiceError("该邮箱已注册，请直接登录", field="email")
    user = User(
        email=_normalise_email(email),
        password_hash=password_hash,
        role=role,
        display_name=display_name.strip(),
    )
    session.add(user)
    session.flush()
    return user


def _require_free_credit_code(session: Session, role: Role, code: str) -> None:
    if credit_code_taken(session, role, code):
        raise ServiceError("该统一社会信用代码已登记，如需找回账号请联系平台管理员", field="credit_code")


def create_enterprise(session: Session, data: EnterpriseProfile, password_hash: str) -> User:
    """Create the user and its enterprise in one transaction; the size class is derived, not asked."""
    taxonomy.check_codes(session, industries=[data.industry])
    _require_free_credit_code(session, Role.enterprise, data.credit_code)
    user = _new_user(session, data.email, password_hash, Role.enterprise, data.contact_name)
    derived = {"user_id": user.id, "size_class": size_class(data.employees, data.revenue)}
    enterprise = Enterprise.model_validate(data.model_dump(exclude={"password"}) | derived)
    session.add(enterprise)
    session.flush()
    enterprises.record_maturity(session, enterprise, enterprises.UNSTATED, user.id)
    session.commit()
    return user


def create_provider(session: Session, data: ProviderProfile, password_hash: str) -> User:
    """Create the user and a draft provider record; the whitelist application comes later."""
    taxonomy.check_codes(session, domains=data.domains)
    _require_free_credit_code(session, Role.provider, data.credit_code)
    user = _new_user(session, data.email, password_hash, Role.provider, data.contact_name)
    session.add(Provider.model_validate(data.model_dump(exclude={"password"}) | {"user_id": user.id}))
    session.commit()
    return user


def register_enterprise(session: Session, data: EnterpriseRegistration) -> User:
    return create_enterprise(session, data, hash_password(data.password))


def register_provider(session: Session, data: ProviderRegistration) -> User:
    return create_provider(session, data, hash_password(data.password))


# Checked against when no account has the email, so an unknown email costs one hash like a known
# one (it answered in 8 ms against 80 ms, which told an attacker which emails have accounts).
_ABSENT_HASH = generate_password_hash("no account has this password")


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None; always exactly one password hash."""
    user = session.exec(select(User).where(func.lower(User.email) == _normalise_email(email))).first()
    matches = check_password_hash(user.password_hash if user is not None else _ABSENT_HASH, password)
    if user is None or not user.is_active or not matches:
        return None
    return user


def create_admin(session: Session, account: AccountCreate) -> User:
    user = _new_user(session, account.email, hash_password(account.password), Role.admin, account.display_name)
    session.commit()
    return user


def end_sessions(session: Session, user_id: int, commit: bool = True) -> None:
    """Raise the user's session version: every session signed in before ends at its next request."""
    session.exec(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))
    if commit:
        session.commit()


def set_password(session: Session, user: User, password: str) -> None:
    """Store a new password (the caller checked it) and end every session signed in with the old one."""
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    session.add(user)


def change_password(session: Session, user_id: int, current: str, new: str) -> User:
    """A signed-in user's own change (commits): the current password first, then the same rules as
    registration. Audited, and the owner is told by email, so a change they did not make shows."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise ServiceError("账号不存在或已停用")
    if not check_password_hash(user.password_hash, current):
        raise ServiceError("当前密码不正确", field="current_password")
    error = password_error(new)
    if error:
        raise ServiceError(error, field="password")
    if check_password_hash(user.password_hash, new):
        raise ServiceError("新密码不能与当前密码相同", field="password")
    set_password(session, user, new)
    audit.record(session, user.id, "account.password_change", "user", user.id, "本人修改密码")
    notify(
        session,
        user.id,
        ACCOUNT_KIND,
        "您的登录密码已修改",
        "您的账号刚刚修改了登录密码，其他设备上的登录已全部退出。如非本人操作，请立即通过登录页的“忘记密码”"
        "重置密码，并联系平台管理员。",
    )
    session.commit()
    return user
