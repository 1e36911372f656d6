"""Configuration: defaults in one place, overridden by the environment, then by `create_app(config)`."""

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "MATCHMAKER_ENCODER": "use",  # use | e5 | st:<local model path or installed name> | hash (tests only)
    "MATCHMAKER_INDEX_POLL_SECONDS": 0.2,  # how often a worker looks for other workers' changes (search_index.py)
    # Database connections kept per process: its request threads, the index poll and the API call log
    # (gunicorn.conf.py sets it from GUNICORN_THREADS).
    "MATCHMAKER_DB_POOL_SIZE": 6,
    "MATCHMAKER_PAGE_SIZE": 20,
    "MATCHMAKER_DOCKING_CAP": 5,  # docking requests (对接申请) an enterprise may send per need
    "MATCHMAKER_SESSION_COOKIE_SECURE": False,
    "MATCHMAKER_IDLE_MINUTES": 120,  # a signed-in session unused this long ends (see plumbing/extensions.py)
    "MATCHMAKER_RESET_MINUTES": 60,  # how long a password reset link works (services/password_reset.py)
    "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session: forms left open stay usable
    "WTF_I18N_ENABLED": False,  # Flask-Babel is not used; forms pick WTForms' bundled zh messages
    "MATCHMAKER_MAX_UPLOAD_MB": 5,  # the largest request body (an import file), as MAX_CONTENT_LENGTH
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Precise push (精准推送); the threshold is explained in matchmaker/services/push.py
    "MATCHMAKER_PUSH_THRESHOLD": 0.80,  # the 高度匹配 band (MATCHMAKER_BAND_HIGH)
    "MATCHMAKER_PUSH_PER_PROVIDER_DAY": 5,
    "MATCHMAKER_PUSH_PER_ENTERPRISE_DAY": 5,
    "MATCHMAKER_PUSH_PER_NEED": 3,
    # Match bands shown on need pages, derived by `flask match-bands` (matchmaker/matching/bands.py) from
    # seed_data/dev_set.json + the real development set: results >= each are 91% / 70% / 40% relevant
    "MATCHMAKER_BAND_HIGH": 0.80,
    "MATCHMAKER_BAND_GOOD": 0.70,
    "MATCHMAKER_BAND_PARTIAL": 0.58,
    # Email outbox: with no SMTP host, mail stays queued (see matchmaker/services/mail.py)
    "MATCHMAKER_SMTP_HOST": "",
    "MATCHMAKER_SMTP_PORT": 25,
    "MATCHMAKER_SMTP_USER": "",
    "MATCHMAKER_SMTP_PASSWORD": "",
    "MATCHMAKER_SMTP_STARTTLS": False,
    "MATCHMAKER_SMTP_SENDER": "noreply@pingshan-matchmaker.local",
    "MATCHMAKER_MAIL_MAX_ATTEMPTS": 8,
    "MATCHMAKER_MAIL_BACKOFF_SECONDS": 60,  # first retry after this, doubling each time (at most 6 hours)
    "MATCHMAKER_MAIL_INTERVAL": 30,  # seconds between outbox rounds in each web process; 0: use flask send-mail --loop
    "MATCHMAKER_BASE_URL": "http://127.0.0.1:8000",  # links in emails are made absolute with it
    # Provider tiers (梯队): 名称:最低星级:最少验收项目数, best first (matchmaker/services/ratings.py)
    "MATCHMAKER_TIERS": "第一梯队:4:3,第二梯队:3:1,第三梯队:1:0",
    "MATCHMAKER_REGISTRATION_TTL_HOURS": 24,  # how long a registration's confirmation link stays valid
    # 数字化技改项目白名单: the public notice (公示) in working days; holidays skipped besides weekends
    # (ISO dates separated by commas, e.g. "2027-01-01,2027-02-10")
    "MATCHMAKER_PROJECT_NOTICE_DAYS": 5,
    "MATCHMAKER_HOLIDAYS": "",
}

_INT_KEYS = {
    "MATCHMAKER_DB_POOL_SIZE",
    "MATCHMAKER_PAGE_SIZE",
    "MATCHMAKER_DOCKING_CAP",
    "MATCHMAKER_IDLE_MINUTES",
    "MATCHMAKER_RESET_MINUTES",
    "MATCHMAKER_MAX_UPLOAD_MB",
    "MATCHMAKER_PUSH_PER_PROVIDER_DAY",
    "MATCHMAKER_PUSH_PER_ENTERPRISE_DAY",
    "MATCHMAKER_PUSH_PER_NEED",
    "MATCHMAKER_SMTP_PORT",
    "MATCHMAKER_MAIL_MAX_ATTEMPTS",
    "MATCHMAKER_MAIL_BACKOFF_SECONDS",
    "MATCHMAKER_MAIL_INTERVAL",
    "MATCHMAKER_REGISTRATION_TTL_HOURS",
    "MATCHMAKER_PROJECT_NOTICE_DAYS",
}
_FLOAT_KEYS = {
    "MATCHMAKER_PUSH_THRESHOLD",
    "MATCHMAKER_INDEX_POLL_SECONDS",
    "MATCHMAKER_BAND_HIGH",
    "MATCHMAKER_BAND_GOOD",
    "MATCHMAKER_BAND_PARTIAL",
}
_BOOL_KEYS = {"MATCHMAKER_SESSION_COOKIE_SECURE", "MATCHMAKER_SMTP_STARTTLS"}


def _instance_secret(instance_path: str) -> str:
    """A random secret generated on first run and kept in the instance folder, never in code."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _from_environment() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in os.environ.items():
        if not key.startswith("MATCHMAKER_"):
            continue
        if key in _INT_KEYS:
            found[key] = int(value)
        elif key in _FLOAT_KEYS:
            found[key] = float(value)
        elif key in _BOOL_KEYS:
            found[key] = value.lower() in {"1", "true", "yes", "on"}
        else:
            found[key] = value
    for key in ("DATABASE_URL", "SECRET_KEY"):
        if os.environ.get(key):
            found[key] = os.environ[key]
    return found


def build_config(instance_path: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    config.update(_from_environment())
    config.update(overrides or {})
    config.setdefault("DATABASE_URL", f"sqlite:///{Path(instance_path) / 'matchmaker.sqlite'}")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    config["SESSION_COOKIE_SECURE"] = config["MATCHMAKER_SESSION_COOKIE_SECURE"]
    config["MAX_CONTENT_LENGTH"] = int(config["MATCHMAKER_MAX_UPLOAD_MB"]) * 1024 * 1024
    return config
