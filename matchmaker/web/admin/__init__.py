"""The docking service centre (对接服务中心): the admin's pages, one module per area, all on one blueprint
whose guard lets only administrators in.

- `review`: home, the whitelist review queue, provider records, appeals, the audit log;
- `dashboard`: 数据看板 (with `charts`, drawn on the server as SVG) and the exports;
- `taxonomy`: 分类体系, the industries, domains and capability tags;
- `imports`: 批量导入, and the lists of all solutions and dockings;
- `api_keys`: API keys;
- `events`: matchmaking events (链上坪山 供需对接会);
- `projects`: the 数字化技改项目白名单 review (its export is one of the dashboard's).

Like every view, these call services (and read the search index through `plumbing.extensions`);
nothing imports a view.
"""

from flask import Blueprint

from matchmaker.web.auth import guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, "admin")

from matchmaker.web.admin import api_keys, dashboard, events, imports, projects, review, taxonomy  # noqa: E402,F401  (routes on bp)
