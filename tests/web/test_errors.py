"""Error pages: Chinese, never a stack trace, also when the request broke its database transaction."""

from sqlalchemy import text

from matchmaker.plumbing.db import get_session
from tests.conftest import enterprise_form, login, register


def test_a_broken_transaction_still_gets_the_chinese_500_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        get_session().exec(text("SELECT * FROM no_such_table"))  # leaves the transaction failed
        return "unreachable"

    register(client, "enterprise", enterprise_form())
    login(client, "factory1@example.com")  # the error page then reads the user and the unread count
    response = client.get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统繁忙" in html and "Traceback" not in html and "no_such_table" not in html


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "页面不存在" in response.get_data(as_text=True)
