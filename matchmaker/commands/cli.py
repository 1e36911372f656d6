"""`flask` commands: db (upgrade, current, revision), init-db, seed, demo-logins, create-admin, reindex, evaluate,
tune-weights, refit-weights, whitelist-sweep, event-sweep, event-reminders, rate-providers."""

import json
import re

import click
from alembic import command as alembic_command
from alembic.util import CommandError
from flask import Flask, current_app
from flask.cli import with_appcontext
from pydantic import ValidationError
from sqlmodel import Session

from matchmaker.commands import backup
from matchmaker.plumbing.db import engine
from matchmaker.services.errors import ServiceError
from models import upgrade_database
from models.schemas import AccountCreate, error_messages
from models.session import alembic_config, current_revision, head_revision


@click.group("db")
def db_group() -> None:
    """Schema migrations (Alembic; scripts in models/migrations/versions)."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Bring the database to the newest migration (safe to run on every start, by several processes)."""
    upgrade_database(engine())
    click.echo(f"数据库结构已是最新版本：{head_revision()}")


@db_group.command("current")
@with_appcontext
def db_current_command() -> None:
    """Print the revision the database is at, and whether it is the newest."""
    current, head = current_revision(engine()), head_revision()
    if current is None:
        click.echo(f"数据库尚未迁移（没有版本记录）；最新版本：{head}，请运行 flask db upgrade")
    elif current == head:
        click.echo(f"{current}（最新）")
    else:
        click.echo(f"{current}（最新版本：{head}，请运行 flask db upgrade）")


@db_group.command("revision")
@with_appcontext
@click.option("-m", "--message", required=True, help="what the migration changes (English, like commits)")
@click.option("--autogenerate", is_flag=True, help="compare the models with the database (at the newest revision)")
def db_revision_command(message: str, autogenerate: bool) -> None:
    """For developers: write a new migration script into models/migrations/versions, to review and commit."""
    with engine().connect() as connection:
        try:
            config = alembic_config(connection)
            scripts = alembic_command.revision(config, message=message, autogenerate=autogenerate)
        except CommandError as error:  # e.g. "Target database is not up to date."
            raise click.ClickException(f"无法生成迁移脚本（先运行 flask db upgrade？）：{error}") from error
    for script in scripts if isinstance(scripts, list) else [scripts]:
        if script is not None:
            click.echo(f"已生成迁移脚本：{script.path}（请逐行检查后与模型改动一起提交）")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Same as `flask db upgrade` (kept for existing scripts)."""
    upgrade_database(engine())
    click.echo("数据库表已就绪")


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load the demo data from seed_data/ (idempotent)."""
    from matchmaker.commands.seed import load_demo
    from matchmaker.commands.seed_activity import load_activity
    from matchmaker.plumbing.extensions import search_index
    from matchmaker.services.push import PushCaps

    upgrade_database(engine())
    with Session(engine()) as session:
        report = load_demo(session)
        config = current_app.config
        activity = load_activity(
            session, engine(), search_index(), PushCaps.from_config(config), tiers=config["MATCHMAKER_TIERS"]
        )
        report.created |= activity.created
    created = "，".join(f"{kind} {count}" for kind, count in sorted(report.created.items())) or "无新增（已是最新）"
    click.echo(f"演示数据已加载：{created}")


@click.command("demo-logins")
@with_appcontext
def demo_logins_command() -> None:
    """Print one demo login per role."""
    from matchmaker.commands.seed import DEMO_PASSWORD, demo_logins

    with Session(engine()) as session:
        for label, email in demo_logins(session):
            click.echo(f"  {label}：{email}  密码：{DEMO_PASSWORD}")


@click.command("create-admin")
@with_appcontext
@click.option("--email", prompt="管理员邮箱")
@click.option("--name", prompt="姓名")
@click.password_option("--password", prompt="密码", confirmation_prompt="再次输入密码")
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create an administrator account."""
    from matchmaker.services import accounts

    try:
        account = AccountCreate(email=email, password=password, display_name=name)
    except ValidationError as exc:
        raise click.ClickException("；".join(error_messages(exc).values())) from exc
    upgrade_database(engine())
    with Session(engine()) as session:
        try:
            accounts.create_admin(session, account)
        except ServiceError as error:
            raise click.ClickException(error.message) from error
    click.echo(f"管理员 {email} 已创建")


@click.command("reindex")
@with_appcontext
@click.option("--force", is_flag=True, help="re-encode every solution, not only those whose text or model changed")
def reindex_command(force: bool) -> None:
    """Bring the stored vectors of all matchable solutions up to date (safe to interrupt and re-run)."""
    from matchmaker.matching.search_index import matchable_count, reindex
    from matchmaker.plumbing.extensions import search_index

    encoder = search_index().encoder
    with Session(engine()) as session:
        total = matchable_count(session)
        with click.progressbar(length=total, label=f"编码 {encoder.name}") as bar:
            done = reindex(session, encoder, force=force, on_batch=bar.update)
    click.echo(f"索引已更新：{done} 个可匹配的服务方案；运行中的进程会在下一个请求时载入变化")


@click.command("evaluate")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON on the last line")
@click.option("--encoder", default=None, help="encoder spec (default: MATCHMAKER_ENCODER)")
@click.option("--only", metavar="REGEX", default=None, help="evaluate only the needs whose id matches REGEX")
@click.option("--no-nearest", is_flag=True, help="map solutions onto capabilities by their phrases only")
def evaluate_command(
    paths: tuple[str, ...], as_json: bool, encoder: str | None, only: str | None, no_nearest: bool
) -> None:
    """Match quality on labelled sets (NDCG@10, MRR@10, Recall@10), a table per file and their macro
    average, in memory: the database is not touched."""
    from embeddings import load_encoder
    from matchmaker.matching.capabilities import NEAREST_THRESHOLD
    from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, evaluate, load_taxonomy, report

    model = load_encoder(encoder or current_app.config["MATCHMAKER_ENCODER"])
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    keep = re.compile(only).search if only else None
    nearest = None if no_nearest else NEAREST_THRESHOLD
    text, figures = report({path: evaluate(path, model, taxonomy, only=keep, nearest=nearest) for path in paths})
    click.echo(text)
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))


@click.command("tune-weights")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="cross-validation folds")
@click.option("--step", default=0.1, show_default=True, type=click.FloatRange(0.05, 0.5), help="grid step")
@click.option("--encoder", default=None, help="encoder spec (default: MATCHMAKER_ENCODER)")
@click.option(
    "--nearest",
    metavar="T1,T2,...",
    default=None,
    help="also cross-validate the nearest-capability threshold over these values and off",
)
def tune_weights_command(
    paths: tuple[str, ...], folds: int, step: float, encoder: str | None, nearest: str | None
) -> None:
    """Fusion weights by cross-validation over several labelled sets; prints held-out figures only."""
    from embeddings import load_encoder
    from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, load_taxonomy
    from matchmaker.matching.fusion import DEFAULT_WEIGHTS
    from matchmaker.matching.tuning import (
        cross_validate,
        cross_validate_settings,
        format_cross_validation,
        format_settings,
        need_tables,
        single_signals,
    )

    if len(paths) < 2:
        raise click.ClickException("至少需要两个标注集：只在一个文件上调权重会过拟合")
    model = load_encoder(encoder or current_app.config["MATCHMAKER_ENCODER"])
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    if nearest is not None:
        try:
            thresholds = [float(value) for value in nearest.split(",") if value.strip()]
        except ValueError as error:
            raise click.ClickException("--nearest 须为逗号分隔的数值，例如 0.45,0.5,0.55") from error
        if not thresholds or any(not 0.0 <= t <= 1.0 for t in thresholds):
            raise click.ClickException("--nearest 的每个阈值须在 0 到 1 之间")
        settings = {"nearest off": None} | {f"nearest {t:g}": t for t in thresholds}
        tables_of = {
            name: [table for path in paths for table in need_tables(path, model, taxonomy, value)]
            for name, value in settings.items()
        }
        click.echo(format_settings(cross_validate_settings(tables_of, folds=folds, step=step)))
        return
    tables = [table for path in paths for table in need_tables(path, model, taxonomy)]
    fixed = {"DEFAULT_WEIGHTS (current)": DEFAULT_WEIGHTS} | single_signals()
    click.echo(format_cross_validation(cross_validate(tables, folds=folds, step=step, fixed=fixed)))


@click.command("match-bands")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--encoder", default=None, help="encoder spec (default: MATCHMAKER_ENCODER)")
def match_bands_command(paths: tuple[str, ...], encoder: str | None) -> None:
    """Derive the match bands' score cut-offs from labelled sets (see matching/bands.py), in memory."""
    from embeddings import load_encoder
    from matchmaker.matching.bands import derive, format_bands, labelled_pairs
    from matchmaker.matching.evaluation import DEFAULT_TAXONOMY, load_taxonomy

    spec = encoder or current_app.config["MATCHMAKER_ENCODER"]
    pairs = labelled_pairs(paths, load_encoder(spec), load_taxonomy(DEFAULT_TAXONOMY))
    click.echo(format_bands(pairs, derive(pairs)))


@click.command("refit-weights")
@with_appcontext
@click.option("--admin-email", required=True, help="调整人（管理员）的登录邮箱")
@click.option("--reason", required=True, help="调整理由（记入审计日志）")
@click.option(
    "--public",
    "paths",
    multiple=True,
    default=("seed_data/dev_set.json", "seed_data/real_dev_set.json"),
    show_default=True,
    type=click.Path(exists=True, dir_okay=False),
    help="public labelled sets (at least two)",
)
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="cross-validation folds")
@click.option("--step", default=0.1, show_default=True, type=click.FloatRange(0.05, 0.5), help="grid step")
@click.option("--encoder", default=None, help="encoder spec (default: MATCHMAKER_ENCODER)")
def refit_weights_command(
    admin_email: str, reason: str, paths: tuple[str, ...], folds: int, step: float, encoder: str | None
) -> None:
    """Re-fit the fusion weights from the public labelled sets plus the platform's outcomes; adopt them
    only when they beat the current ones on held-out folds of every public set (see services/outcomes)."""
    from embeddings import load_encoder
    from matchmaker.matching.tuning import format_cross_validation
    from matchmaker.services import outcomes

    model = load_encoder(encoder or current_app.config["MATCHMAKER_ENCODER"])
    with Session(engine(), expire_on_commit=False) as session:
        try:
            refit = outcomes.refit(session, admin_email, reason, paths, model, folds=folds, step=step)
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    grades = "，".join(f"{grade} 分 {count} 对" for grade, count in sorted(refit.pairs.items(), reverse=True))
    click.echo(f"对接结果：{grades}；有正向结果的需求 {refit.outcome_needs} 个")
    click.echo(format_cross_validation(refit.result))

    def figures(weights) -> str:
        return ", ".join(f"{name}={value:.2f}" for name, value in weights.normalised().items())

    click.echo(f"当前权重：{figures(refit.before)}")
    click.echo(f"重新拟合：{figures(refit.after)}")
    if refit.refused:
        click.echo("未采用，权重保持不变：" + "；".join(refit.refused))
    else:
        click.echo("已采用新权重，各进程将自动载入（已记入审计日志）")


@click.command("whitelist-sweep")
@with_appcontext
@click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="run as of this date (YYYY-MM-DD)"
)
def whitelist_sweep_command(today) -> None:
    """Daily (cron): revoke overdue warnings, expire lapsed approvals, remind 30 days before expiry."""
    from datetime import date

    from matchmaker.services import whitelist

    day = today.date() if today else date.today()
    with Session(engine()) as session:  # the change stamps tell every running worker's index
        report = whitelist.sweep(session, day)
    click.echo(
        f"{day}：撤销逾期未整改 {len(report.revoked)} 家，到期 {len(report.expired)} 家，"
        f"发送到期提醒 {len(report.reminded)} 家"
    )


@click.command("event-sweep")
@with_appcontext
def event_sweep_command() -> None:
    """Daily (cron, or more often): close registration of events whose deadline has passed."""
    from matchmaker.services import events

    with Session(engine()) as session:
        closed = events.close_due(session)
    click.echo(f"截止报名的活动 {len(closed)} 个")


@click.command("event-reminders")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="the day to act as (Beijing time)")
@with_appcontext
def event_reminders_command(today) -> None:
    """Daily (cron): remind the participants of tomorrow's events, each once (inbox and email)."""
    from matchmaker.services import event_day

    with Session(engine()) as session:
        sent = event_day.send_reminders(session, today.date() if today else None)
    click.echo(f"发送明日参会提醒 {sent} 份")


@click.command("rate-providers")
@with_appcontext
@click.option("--period", required=True, help="the quarter to rate, e.g. 2027Q1")
@click.option(
    "--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="run as of this date (YYYY-MM-DD)"
)
def rate_providers_command(period: str, today) -> None:
    """Rate every whitelisted provider 1-5 stars for a finished quarter (idempotent; published ratings stay)."""
    from datetime import date

    from matchmaker.services import ratings

    try:
        tiers = ratings.parse_tiers(current_app.config["MATCHMAKER_TIERS"])
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    with Session(engine()) as session:
        try:
            report = ratings.rate(session, period, tiers, today.date() if today else date.today())
        except ServiceError as error:
            raise click.ClickException(error.message) from None
    click.echo(
        f"{period}：新评 {len(report.created)} 家，重新计算 {len(report.updated)} 家，未变 {len(report.unchanged)} 家，"
        f"已公布未改动 {len(report.published)} 家；请在对接服务中心 → 评星评级 审核后公布"
    )


def init_app(app: Flask) -> None:
    commands = (db_group, init_db_command, seed_command, demo_logins_command, create_admin_command)
    maintenance = (
        reindex_command,
        evaluate_command,
        tune_weights_command,
        match_bands_command,
        refit_weights_command,
        whitelist_sweep_command,
        event_sweep_command,
        event_reminders_command,
        rate_providers_command,
    )
    for command in (*commands, *maintenance):
        app.cli.add_command(command)
    backup.init_app(app)  # backup, restore
