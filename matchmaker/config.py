"""Configuration: defaults in one place, overridden by the environment, then by `create_app(config)`."""

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "MATCHMAKER_ENCODER": "use",  # use | e5 | st:<local model path or installed name> | hash (tests only)
    "MATCHMAKER_PAGE_SIZE": 20,
    "MATCHMAKER_DOCKING_CAP": 5,  # docking requests (对接申请) an enterprise may send per need
    "MATCHMAKER_SESSION_COOKIE_SECURE": False,
    "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session: forms left open stay usable
    "WTF_I18N_ENABLED": False,  # Flask-Babel is not used; forms pick WTForms' bundled zh messages
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}

_INT_KEYS = {"MATCHMAKER_PAGE_SIZE", "MATCHMAKER_DOCKING_CAP"}
_BOOL_KEYS = {"MATCHMAKER_SESSION_COOKIE_SECURE"}


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
    return config
