"""Stored-XSS probes: script payloads written through the real forms into every free-text field the
pages show, then every page of every role read back: no payload may come out as markup, each probe
must be shown somewhere (escaped), and every page carries the Content-Security-Policy.

Data-driven: a new free-text field is one `Probe` row (which step writes it, where it must show);
a new page is found by the sweep over every GET route or added to `DETAIL_PAGES`.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlmodel import select

from models import Docking, Need, Provider, Solution
from tests.conftest import PASSWORD, credit_code, enterprise_form, login, post, provider_form, register

PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
SHORT_PAYLOAD = '"><img src=x onerror=alert(1)>'  # for fields of 60 characters or fewer
# What must never reach a page as markup: the tags themselves, and an attribute broken out of.
RAW = ("<script>alert(1)", "<img src=x", '"><img')


@dataclass(frozen=True)
class Probe:
    step: str  # the form submission that writes it (a key of STEPS)
    field: str  # the form field
    shown_on: tuple[str, ...]  # pages (keys of PAGES) that must show it, escaped
    prefix: str = ""  # text the field's validation needs in front of the payload
    short: bool = False  # the field holds 60 characters or fewer

    @property
    def marker(self) -> str:
        return "X" + hashlib.sha256(f"{self.step}.{self.field}".encode()).hexdigest()[:6]

    @property
    def payload(self) -> str:
        return SHORT_PAYLOAD if self.short else PAYLOAD

    @property
    def value(self) -> str:
        return f"{self.prefix}{self.marker}{self.payload}"


NEED_TEXT = "开料机、封边机都是单机作业，想做设备联网，在手机上看到每台机器的开机率和产量。"
SOLUTION_TEXT = "边缘网关接入开料机、封边机，设备联网后运行状态与产量实时上云，自动统计开机率。"

PROBES = [
    Probe("provider_profile", "name", ("provider_home", "admin_provider", "admin_providers", "need")),
    Probe("provider_profile", "contact_name", ("provider_profile", "admin_provider"), short=True),
    Probe("provider_profile", "service_content", ("provider_profile", "admin_provider")),
    Probe("provider_profile", "capabilities", ("provider_profile", "admin_provider")),
    Probe("provider_profile", "qualifications", ("provider_profile", "admin_provider")),
    Probe("case", "title", ("provider_home", "admin_provider")),
    Probe("case", "client", ("provider_home", "admin_provider")),
    Probe("case", "description", ("admin_provider",)),
    Probe("apply", "note", ("admin_provider",)),
    Probe("approve", "reason", ("admin_provider", "admin_audit", "provider_home")),
    Probe("solution", "title", ("provider_home", "solution_edit", "need", "admin_provider")),
    Probe("solution", "summary", ("solution_edit", "need")),
    Probe("solution", "description", ("solution_edit",), prefix=SOLUTION_TEXT),
    Probe("solution", "modules", ("solution_edit", "need"), prefix="设备联网"),  # covers the need's 设备联网
    Probe("solution", "price_range", ("solution_edit",), short=True),
    Probe("enterprise_profile", "name", ("enterprise_profile", "enterprise_home")),
    Probe("enterprise_profile", "address", ("enterprise_profile",)),
    Probe("enterprise_profile", "contact_name", ("enterprise_profile",), short=True),
    Probe("need", "title", ("need", "enterprise_needs", "docking")),
    Probe("need", "description", ("need",), prefix=NEED_TEXT),
    Probe("need", "budget_range", ("need",), short=True),
    Probe("docking", "message", ("docking",)),
]


def _values(step: str) -> dict[str, str]:
    return {probe.field: probe.value for probe in PROBES if probe.step == step}


@dataclass
class World:
    app: Flask
    enterprise: FlaskClient
    provider: FlaskClient
    admin: FlaskClient
    ids: dict[str, int]


def _ok(response) -> None:
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]


def _provider_profile(w: World) -> None:
    data = provider_form() | {
        "credit_code": credit_code(500),
        "phone": "13900139000",
        "email": "sales@vendor.example",
        "website": "https://vendor.example",
        "years_in_shenzhen": "6",
    }
    data = {k: v for k, v in data.items() if k not in ("password", "password_confirm")}
    _ok(post(w.provider, "/provider/profile", data | _values("provider_profile"), page="/provider/profile"))


def _case(w: World) -> None:
    data = {"industry": "furniture", "year": "2025"} | _values("case")
    _ok(post(w.provider, "/provider/cases/new", data, page="/provider/cases/new"))


def _apply(w: World) -> None:
    _ok(post(w.provider, "/provider/apply", _values("apply"), page="/provider/"))


def _approve(w: World) -> None:
    provider_id = w.ids["provider"]
    data = {"action": "approve"} | _values("approve")
    _ok(post(w.admin, f"/admin/providers/{provider_id}/decide", data, page=f"/admin/providers/{provider_id}"))


def _solution(w: World) -> None:
    data = {
        "domain": "data_collection",
        "industries": ["furniture"],
        "sizes": ["small", "micro"],
        "tags": ["设备联网"],
        "deployment": "saas",
        "delivery_weeks": "4",
    } | _values("solution")
    _ok(post(w.provider, "/provider/solutions/new", data, page="/provider/solutions/new"))


def _enterprise_profile(w: World) -> None:
    data = {k: v for k, v in enterprise_form().items() if k not in ("password", "password_confirm")}
    _ok(post(w.enterprise, "/enterprise/profile", data | _values("enterprise_profile"), page="/enterprise/profile"))


def _need(w: World) -> None:
    data = {"industry": "furniture", "domains": ["data_collection"], "tags": ["设备联网"]} | _values("need")
    _ok(post(w.enterprise, "/enterprise/needs/new", data, page="/enterprise/needs/new"))


def _docking(w: World) -> None:
    need_id, solution_id = w.ids["need"], w.ids["solution"]
    url = f"/dockings/needs/{need_id}/solutions/{solution_id}/request"
    _ok(post(w.enterprise, url, _values("docking"), page=f"/enterprise/needs/{need_id}"))


STEPS: dict[str, Callable[[World], None]] = {
    "provider_profile": _provider_profile,
    "case": _case,
    "apply": _apply,
    "approve": _approve,
    "solution": _solution,
    "enterprise_profile": _enterprise_profile,
    "need": _need,
    "docking": _docking,
}

# Pages with ids, by who reads them; the pages without path arguments are swept for every role too.
PAGES: dict[str, tuple[str, str]] = {
    "provider_home": ("provider", "/provider/"),
    "provider_profile": ("provider", "/provider/profile"),
    "solution_edit": ("provider", "/provider/solutions/{solution}/edit"),
    "admin_providers": ("admin", "/admin/providers"),
    "admin_provider": ("admin", "/admin/providers/{provider}"),
    "admin_audit": ("admin", "/admin/audit"),
    "enterprise_home": ("enterprise", "/enterprise/"),
    "enterprise_profile": ("enterprise", "/enterprise/profile"),
    "enterprise_needs": ("enterprise", "/enterprise/needs"),
    "need": ("enterprise", "/enterprise/needs/{need}"),
    "docking": ("provider", "/dockings/{docking}"),
}
DETAIL_PAGES = [
    ("enterprise", "/dockings/{docking}"),
    ("admin", "/admin/solutions"),
    ("admin", "/admin/dockings"),
]


def _client(app: Flask, role: str, form: dict, email: str) -> FlaskClient:
    client = app.test_client()
    _ok(register(client, role, form))
    _ok(login(client, email))
    return client


@pytest.fixture
def world(app: Flask, db) -> World:
    enterprise = _client(app, "enterprise", enterprise_form(), "factory1@example.com")
    provider = _client(app, "provider", provider_form(), "vendor500@example.com")
    admin = app.test_client()
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "admin@example.com", "--name", "管理员", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    _ok(login(admin, "admin@example.com"))
    w = World(app, enterprise, provider, admin, {"provider": db.exec(select(Provider.id)).one()})
    for name, step in STEPS.items():
        step(w)
        if name == "solution":
            w.ids["solution"] = db.exec(select(Solution.id)).one()
        if name == "need":
            w.ids["need"] = db.exec(select(Need.id)).one()
    w.ids["docking"] = db.exec(select(Docking.id)).one()
    return w


def _no_markup(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"{where}: unescaped {raw!r}"


def _every_get_page(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith("/static")
    )


def test_every_probe_is_shown_escaped_where_it_belongs(world: World):
    clients = {"enterprise": world.enterprise, "provider": world.provider, "admin": world.admin}
    for page, (role, template) in PAGES.items():
        response = clients[role].get(template.format(**world.ids))
        assert response.status_code == 200, (page, response.status_code)
        html = response.get_data(as_text=True)
        _no_markup(html, page)
        assert "Content-Security-Policy" in response.headers, page
        for probe in PROBES:
            if page in probe.shown_on:
                assert probe.marker in html, f"{probe.step}.{probe.field} not shown on {page}"
                _assert_escaped_after(html, probe, page)


def _assert_escaped_after(html: str, probe: Probe, page: str) -> None:
    """Where the page shows the probe in full, it shows it escaped (a page may shorten long text)."""
    escaped = str(escape(probe.payload))
    shown = [html[m.end() : m.end() + len(escaped)] for m in re.finditer(re.escape(probe.marker), html)]
    assert any(escaped.startswith(text[:12]) for text in shown), (probe.field, page, shown)


def test_no_page_of_any_role_renders_a_probe_as_markup(world: World):
    clients = {
        "anonymous": world.app.test_client(),
        "enterprise": world.enterprise,
        "provider": world.provider,
        "admin": world.admin,
    }
    seen: set[str] = set()
    pages = [(role, url) for role in clients for url in _every_get_page(world.app)]
    pages += [(role, template.format(**world.ids)) for role, template in [*PAGES.values(), *DETAIL_PAGES]]
    for role, url in pages:
        response = clients[role].get(url)
        html = response.get_data(as_text=True)
        _no_markup(html, f"{role} {url}")
        assert "Content-Security-Policy" in response.headers, (role, url)
        seen.update(probe.marker for probe in PROBES if probe.marker in html)
    assert seen == {probe.marker for probe in PROBES}, "probes shown on no page"


def test_the_match_api_and_widget_return_probes_as_data_not_markup(world: World):
    """Free text typed into the public widget is echoed escaped too (no stored data needed)."""
    response = world.app.test_client().get("/embed/need", query_string={"q": PAYLOAD})
    _no_markup(response.get_data(as_text=True), "/embed/need")
    assert "Content-Security-Policy" in response.headers
