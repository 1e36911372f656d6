"""Registration through an emailed confirmation link, so that a registration reveals nothing about
which emails and credit codes have accounts (#13 finding 7).

The form always gets the same answer (请查收确认邮件); what happens is told only to the address given:
- a new email and credit code: a mail with a single-use link, valid MATCHMAKER_REGISTRATION_TTL_HOURS;
  the form is kept (password hashed) in a `PendingRegistration` row, and the account is created only
  when the link is opened;
- an email that already has an account: a mail saying so, with the login page (and its password reset);
- a credit code already registered: a mail explaining that, and whom to ask.
Every branch hashes the password once, so the answer takes as long whichever it is. The token is
stored only as its SHA-256; a used or expired link creates nothing.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from matchmaker.services import accounts, taxonomy
from matchmaker.services.errors import ServiceError
from matchmaker.services.notifications import LINK_LABEL, SUBJECT_PREFIX
from models import OutboxMail, PendingRegistration, Role, User
from models.schemas import EnterpriseProfile, EnterpriseRegistration, ProviderProfile, ProviderRegistration

ROLE_WORDS = {Role.enterprise: "企业", Role.provider: "服务商"}
CONFIRM_PATH = "/auth/register/confirm/"
INVALID_LINK = "确认链接无效、已使用或已过期，请重新注册"
# Registration mails to one address per hour: the form answers the same either way, so beyond this the
# form cannot be used to flood someone's mailbox; the earlier links still work.
MAILS_PER_HOUR = 3
CONFIRM_TITLE = "请确认您的注册邮箱"
ACCOUNT_EXISTS_TITLE = "关于您的注册申请"
MAIL_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Confirmed:
    user: User
    role: Role


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session,
    role: Role,
    data: EnterpriseRegistration | ProviderRegistration,
    now: datetime,
    ttl: timedelta,
) -> str | None:
    """Record the registration and queue the one mail that fits; commits. Returns the token when a
    confirmation link was mailed (for the caller's logs and tests only, never shown to the visitor)."""
    if role == Role.enterprise:
        taxonomy.check_codes(session, industries=[data.industry])
    else:
        taxonomy.check_codes(session, domains=data.domains)
    password_hash = accounts.hash_password(data.password)  # in every branch: the same time for each
    email = data.email.strip().lower()
    token = None
    session.exec(delete(PendingRegistration).where(col(PendingRegistration.expires_at) <= now))
    if _recent_mails(session, email, now) >= MAILS_PER_HOUR:  # nothing more to this address for now
        session.commit()
        return None
    if accounts.email_taken(session, email):
        _mail(session, email, ACCOUNT_EXISTS_TITLE, _ACCOUNT_EXISTS, "/auth/login")
    elif accounts.credit_code_taken(session, role, data.credit_code):
        body = _CODE_TAKEN.format(role=ROLE_WORDS[role], name=data.name, code=data.credit_code)
        _mail(session, email, ACCOUNT_EXISTS_TITLE, body, "")
    else:
        token = secrets.token_urlsafe(32)
        form = data.model_dump(mode="json", exclude={"password"})
        session.add(
            PendingRegistration(
                token_hash=token_hash(token),
                role=str(role),
                email=email,
                form=form,
                password_hash=password_hash,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        hours = max(1, int(ttl.total_seconds() // 3600))
        body = _CONFIRM.format(role=ROLE_WORDS[role], name=data.name, hours=hours, contact=data.contact_name)
        _mail(session, email, CONFIRM_TITLE, body, CONFIRM_PATH + token)
    session.commit()
    return token


def pending(session: Session, token: str, now: datetime) -> PendingRegistration | None:
    """The registration the token confirms, if it is unused and not expired."""
    row = session.exec(select(PendingRegistration).where(PendingRegistration.token_hash == token_hash(token))).first()
    if row is None or row.used_at is not None or _aware(row.expires_at, now) <= now:
        return None
    return row


def confirm(session: Session, token: str, now: datetime) -> Confirmed:
    """Use the token (once) and create the account from the kept form; commits."""
    row = pending(session, token, now)
    if row is None:
        raise ServiceError(INVALID_LINK)
    used = session.exec(
        update(PendingRegistration)
        .where(col(PendingRegistration.id) == row.id, col(PendingRegistration.used_at).is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # another request used it first
        session.rollback()
        raise ServiceError(INVALID_LINK)
    role = Role(row.role)
    try:
        if role == Role.enterprise:
            user = accounts.create_enterprise(session, EnterpriseProfile.model_validate(row.form), row.password_hash)
        else:
            user = accounts.create_provider(session, ProviderProfile.model_validate(row.form), row.password_hash)
    except ServiceError:  # taken meanwhile (by another link): the link is spent all the same
        session.rollback()
        session.exec(update(PendingRegistration).where(col(PendingRegistration.id) == row.id).values(used_at=now))
        session.commit()
        raise
    return Confirmed(user, role)


def _recent_mails(session: Session, email: str, now: datetime) -> int:
    """Registration mails queued to `email` within MAIL_WINDOW."""
    subjects = [f"{SUBJECT_PREFIX}{title}" for title in (ACCOUNT_EXISTS_TITLE, CONFIRM_TITLE)]
    return session.exec(
        select(func.count())
        .select_from(OutboxMail)
        .where(
            OutboxMail.to_address == email,
            col(OutboxMail.subject).in_(subjects),
            col(OutboxMail.created_at) > now - MAIL_WINDOW,
        )
    ).one()


def _mail(session: Session, to: str, title: str, body: str, link: str) -> None:
    text = f"{body}\n\n{LINK_LABEL}{link}" if link else body
    session.add(OutboxMail(to_address=to, subject=f"{SUBJECT_PREFIX}{title}", body=text))


def _aware(value: datetime, like: datetime) -> datetime:
    return value.replace(tzinfo=like.tzinfo) if value.tzinfo is None and like.tzinfo is not None else value


_CONFIRM = (
    "{contact}，您好：\n\n"
    "您正在坪山区数字服务供需对接平台注册{role}账户（{name}）。"
    "请在 {hours} 小时内打开下面的链接完成注册；链接仅可使用一次，注册完成前不会创建账户。\n\n"
    "如果这不是您本人的操作，请忽略本邮件。"
)
_ACCOUNT_EXISTS = (
    "您好：\n\n"
    "有人使用本邮箱地址在坪山区数字服务供需对接平台提交了注册申请。本邮箱已有账户，因此没有创建新账户。\n"
    "如是您本人，请直接登录；如忘记密码，请在登录页通过邮件重置密码，或联系平台管理员。\n\n"
    "如果这不是您本人的操作，请忽略本邮件，您的账户不受影响。"
)
_CODE_TAKEN = (
    "您好：\n\n"
    "您在坪山区数字服务供需对接平台提交的{role}注册申请（{name}）中，统一社会信用代码 {code} 已有账户登记，"
    "因此没有创建新账户。\n"
    "每个单位只能登记一个{role}账户。如需使用该单位的账户，请联系单位内的账户管理人；"
    "如需找回或变更账户，请联系平台管理员（对接服务中心）。"
)
