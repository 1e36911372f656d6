"""The docking service centre (对接服务中心): the admin's pages, one module per area, all on one blueprint
whose guard lets only administrators in.

- `review`: home, the whitelist review queue, provider records, appeals, the audit log;
- `dashboard`: 数据看板 (with `charts`, drawn on the server as SVG) and the exports;
- `taxonomy`: 分类体系, the industries, domains and capability tags;
- `imports`: 批量导入, and the lists of all solutions and dockings;
- `api_keys`: API keys;
- `accounts`: 账号管理, disabling and enabling accounts and forcing password resets;
- `events`: matchmaking events (链上坪山 供需对接会);
- `outbox`: undelivered mail and re-queueing it;
- `projects`: the 数字化技改项目白名单 review (its export is one of the dashboard's);
- `ratings`: 评星评级, the quarterly provider ratings, their adjustment, publication and appeals.

Like every view, these call services (and read the search index through `plumbing.extensions`);
nothing imports a view.
"""

from flask import Blueprint

from matchmaker.web.auth import guard_blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, "admin")

from matchmaker.web.admin import (  # noqa: E402,F401  (routes on bp)
    accounts,
    api_keys,
    dashboard,
    events,
    imports,
    outbox,
    projects,
    ratings,
    review,
    taxonomy,
)
