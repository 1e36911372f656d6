"""The role matrix: every protected page against every kind of visitor."""

import pytest

ENTERPRISE_PAGES = ["/enterprise/", "/enterprise/profile", "/enterprise/needs", "/enterprise/needs/new"]
PROVIDER_PAGES = ["/provider/", "/provider/profile", "/provider/cases/new", "/provider/solutions/new"]
ADMIN_PAGES = ["/admin/", "/admin/providers", "/admin/audit"]
PROTECTED = {"enterprise": ENTERPRISE_PAGES, "provider": PROVIDER_PAGES, "admin": ADMIN_PAGES}


@pytest.mark.parametrize("page", ENTERPRISE_PAGES + PROVIDER_PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_login(client, page):
    response = client.get(page)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["enterprise", "provider", "admin"])
def test_each_role_opens_only_its_own_pages(request, role):
    client = request.getfixturevalue(f"{role}_client")
    for owner, pages in PROTECTED.items():
        for page in pages:
            response = client.get(page)
            expected = 200 if owner == role else 403
            assert response.status_code == expected, (role, page, response.status_code)
            if expected == 403:
                assert "无权访问" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["enterprise", "provider"])
def test_post_routes_of_other_roles_are_forbidden(request, role):
    from tests.conftest import csrf_token

    client = request.getfixturevalue(f"{role}_client")
    token = csrf_token(client, "/")
    assert (
        client.post(
            "/admin/providers/1/decide", data={"csrf_token": token, "action": "approve", "reason": "x"}
        ).status_code
        == 403
    )
    other = "provider" if role == "enterprise" else "enterprise"
    target = "/provider/apply" if other == "provider" else "/enterprise/needs/new"
    assert client.post(target, data={"csrf_token": token}).status_code == 403


def test_public_pages_are_open(client):
    for page in ["/", "/auth/login", "/auth/register/enterprise", "/auth/register/provider"]:
        assert client.get(page).status_code == 200


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)
