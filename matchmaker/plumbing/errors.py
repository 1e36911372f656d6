"""The Chinese error pages (under /api/v1 the API answers errors in JSON instead)."""

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError

API_PREFIX = "/api/v1"

_PAGES = {
    400: ("请求无效", "提交的内容无法处理，请返回后重试。"),
    403: ("无权访问", "您的账号没有访问此页面的权限。"),
    404: ("页面不存在", "您要找的页面不存在或已被删除。"),
    405: ("请求方式不允许", "此页面不支持该操作。"),
    409: ("操作冲突", "该操作与同时提交的另一操作冲突，未能完成。请刷新页面查看最新状态后重试。"),
    413: ("文件过大", "上传的内容超过了允许的大小。"),
    500: ("系统繁忙", "服务器处理请求时出错，请稍后再试。我们已记录此问题。"),
}


def error_page(code: int, detail: str | None = None):
    """The Chinese error page for `code`, with `detail` instead of the standard message if given."""
    title, message = _PAGES[code]
    if code >= 500 and "db_session" in g:
        # The failed request may have left its transaction broken; the page itself reads the
        # database (the logged-in user, the unread count), so start it on a clean one.
        g.db_session.rollback()
    return render_template("errors.html", code=code, title=title, message=detail or message), code


LOST_RACE = "该操作与同时提交的另一操作冲突，未能完成，请刷新后查看最新状态"


def end_lost_race() -> None:
    """A uniqueness rule the database enforces was broken by a request that raced another one: the
    request's transaction is dead, roll it back so the answer can still read the database."""
    if "db_session" in g:
        g.db_session.rollback()


def _lost_race_page(_exc: IntegrityError):
    end_lost_race()
    return error_page(409)


def register_error_pages(app: Flask) -> None:
    for code in _PAGES:
        app.register_error_handler(code, lambda exc, code=code: error_page(code))
    app.register_error_handler(IntegrityError, _lost_race_page)
    app.register_error_handler(
        CSRFError, lambda exc: error_page(400, "页面已过期或表单校验失败（CSRF），请刷新页面后重新提交。")
    )


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")
