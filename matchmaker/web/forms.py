"""Web forms: CSRF, rendering and field presence. The rules themselves live in `models.schemas`."""

from typing import TypeVar

from flask_wtf import FlaskForm
from pydantic import ValidationError
from sqlmodel import Session, SQLModel
from werkzeug.datastructures import FileStorage
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Optional

from matchmaker.services import taxonomy
from matchmaker.services.errors import ServiceError
from models.schemas import error_messages
from models.validation import (
    AI_SCENARIOS,
    FACTORY_TIERS,
    MATURITY_BANDS,
    MATURITY_LEVELS,
    MATURITY_SOURCES,
    PINGSHAN_STREETS,
    SIZE_LABELS,
    text_error,
)

Schema = TypeVar("Schema", bound=SQLModel)

REQUIRED = DataRequired(message="此项为必填项")
DEPLOYMENTS = {"saas": "SaaS 云服务", "private": "私有化部署", "hybrid": "混合部署", "onsite": "现场实施"}
_INDUSTRY_GROUPS = {"cluster": "坪山重点产业", "division": "国民经济行业分类（GB/T 4754-2017）", "general": "通用"}


def choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in labels.items()]


def industry_choices(session: Session, grouped: bool = True) -> list[SelectChoice]:
    """Plan clusters first, then GB/T divisions with their codes; optgroups for drop-downs."""
    rows = sorted(taxonomy.industries(session), key=lambda i: ("general", "cluster", "division").index(i.kind))
    return [
        SelectChoice(
            i.code,
            f"{i.code} {i.name}" if i.kind == "division" else i.name,
            optgroup=_INDUSTRY_GROUPS[i.kind] if grouped else None,
        )
        for i in rows
    ]


def domain_choices(session: Session) -> list[SelectChoice]:
    return [SelectChoice(d.code, d.name) for d in taxonomy.domains(session)]


def tag_choices(session: Session) -> list[SelectChoice]:
    return [SelectChoice(t.name, t.name) for t in taxonomy.tags(session)]


class CheckboxesField(SelectMultipleField):
    """A multiple choice rendered as a list of checkboxes (keyboard friendly, no script)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def __init__(self, *args, **kwargs) -> None:
        # WTForms has no Chinese for a multiple choice's unknown values.
        kwargs.setdefault("invalid_choice_message", "不是有效的选择：'%(value)s'")
        super().__init__(*args, **kwargs)


def lines(text: str | None) -> list[str]:
    """One item per line (or separated by ；/;) from a textarea."""
    return [part.strip() for part in (text or "").replace("；", "\n").replace(";", "\n").splitlines() if part.strip()]


def submitted(form: FlaskForm, schema: type[Schema], **overrides) -> Schema | None:
    """On a POST, validate the form and the schema together, so the user sees every problem at once.
    Returns the schema object when both pass, else None with the messages on the form."""
    if not form.is_submitted():
        return None
    form_ok = form.validate()
    data = to_schema(form, schema, **overrides)
    return data if form_ok else None


def to_schema(form: FlaskForm, schema: type[Schema], **overrides) -> Schema | None:
    """Validate the form's fields that `schema` knows (empty ones take the schema default) plus
    `overrides`; on failure put the Chinese messages on the form's fields and return None."""
    data = {key: value for key, value in form.data.items() if key in schema.model_fields and value is not None}
    try:
        return schema.model_validate(data | overrides)
    except ValidationError as exc:
        for field, message in error_messages(exc).items():
            attach_error(form, field, message)
        return None


def attach_error(form: FlaskForm, field: str | None, message: str) -> None:
    """Show `message` at `field` (or above the form). A field keeps the first message it got: the form
    and the schema check the same field, and an empty one would otherwise say 此项为必填项 twice."""
    target = getattr(form, field, None) if field else None
    if target is not None and hasattr(target, "errors"):
        if not target.errors:
            target.errors = [message]
    else:
        form.form_errors.append(message)


def attach_service_error(form: FlaskForm, error: ServiceError) -> None:
    attach_error(form, error.field, error.message)


def _text_error(field: Field) -> str | None:
    """Control characters anywhere (a file's name included); line breaks in a one-line text box."""
    multiline = isinstance(field, TextAreaField) or not isinstance(field, StringField)
    for value in field.raw_data or ():
        text = value.filename if isinstance(value, FileStorage) else value
        error = text_error(text, multiline) if isinstance(text, str) else None
        if error:
            return error
    return None


class BaseForm(FlaskForm):
    """WTForms' own messages (e.g. an invalid choice) in Chinese, no control characters and no line
    break in a one-line field: every form of the platform derives from it, so a value no field should
    hold never reaches a view."""

    class Meta:
        locales = ("zh",)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            error = _text_error(field)
            if error:
                field.errors = [error]  # the field's other messages would be about noise
                valid = False
        return valid


class LoginForm(BaseForm):
    email = EmailField("邮箱", validators=[REQUIRED])
    password = PasswordField("密码", validators=[REQUIRED])


class NewPasswordForm(BaseForm):
    """A new password twice: the password change and the reset by email."""

    password = PasswordField("新密码（至少8位，含字母和数字）", validators=[REQUIRED])
    password_confirm = PasswordField(
        "确认新密码", validators=[REQUIRED, EqualTo("password", message="两次输入的密码不一致")]
    )


class PasswordChangeForm(NewPasswordForm):
    current_password = PasswordField("当前密码", validators=[REQUIRED])


class ForgotPasswordForm(BaseForm):
    email = EmailField("注册邮箱", validators=[REQUIRED])


class AccountForm(BaseForm):
    """Login fields; the login email doubles as the organisation's contact email at registration."""

    email = EmailField("登录邮箱（同时作为联系邮箱）", validators=[REQUIRED])
    password = PasswordField("密码（至少8位，含字母和数字）", validators=[REQUIRED])
    password_confirm = PasswordField(
        "确认密码", validators=[REQUIRED, EqualTo("password", message="两次输入的密码不一致")]
    )


class EnterpriseFields(BaseForm):
    name = StringField("企业名称", validators=[REQUIRED])
    credit_code = StringField("统一社会信用代码", validators=[REQUIRED])
    industry = SelectField("所属行业", validators=[REQUIRED])
    employees = IntegerField("从业人员（人）", validators=[InputRequired(message="请输入从业人员数")])
    revenue = DecimalField("上年营业收入（万元）", validators=[InputRequired(message="请输入营业收入")], places=None)
    maturity_level = SelectField("智能制造能力成熟度（GB/T 39116）", choices=choices(MATURITY_LEVELS), default="0")
    maturity_source = SelectField("成熟度等级来源", choices=choices(MATURITY_SOURCES), default="self")
    maturity_assessed_on = DateField("评估日期（已评估时填写）", validators=[Optional()])
    maturity_certificate = StringField("评估证书编号（已评估时填写）", validators=[Optional()])
    factory_tier = SelectField("智能工厂等级", choices=choices(FACTORY_TIERS), default="")
    factory_tier_year = IntegerField("智能工厂认定年份", validators=[Optional()])
    street = SelectField("所在街道", choices=choices({s: s for s in PINGSHAN_STREETS}), validators=[REQUIRED])
    address = StringField("详细地址", validators=[Optional()])
    contact_name = StringField("联系人", validators=[REQUIRED])
    phone = StringField("联系电话", validators=[REQUIRED])
    email = EmailField("联系邮箱", validators=[REQUIRED])


class EnterpriseRegisterForm(AccountForm, EnterpriseFields):
    pass


class EnterpriseProfileForm(EnterpriseFields):
    pass


class ProviderFields(BaseForm):
    name = StringField("服务商名称", validators=[REQUIRED])
    credit_code = StringField("统一社会信用代码", validators=[REQUIRED])
    contact_name = StringField("联系人", validators=[REQUIRED])
    phone = StringField("联系电话", validators=[REQUIRED])
    email = EmailField("联系邮箱", validators=[REQUIRED])
    domains = CheckboxesField("服务领域（可多选）")


class ProviderRegisterForm(AccountForm, ProviderFields):
    pass


class ProviderProfileForm(ProviderFields):
    service_content = TextAreaField("服务内容")
    capabilities = TextAreaField("技术能力")
    qualifications = TextAreaField("资质认证")
    website = StringField("网站", validators=[Optional()])
    years_in_shenzhen = IntegerField("在深圳经营年限", validators=[Optional()], default=0)


class CaseForm(BaseForm):
    title = StringField("案例名称", validators=[REQUIRED])
    client = StringField("客户（可匿名，如“坪山某家具企业”）", validators=[Optional()])
    industry = SelectField("客户行业")
    year = IntegerField("年份", validators=[Optional()])
    description = TextAreaField("案例说明（做了什么、取得了什么效果）", validators=[Optional()])
    ai_scenarios = CheckboxesField("人工智能赋能场景（如有，可多选）", choices=choices({s: s for s in AI_SCENARIOS}))


class SolutionForm(BaseForm):
    title = StringField("方案名称", validators=[REQUIRED])
    summary = StringField("一句话简介", validators=[Optional()])
    description = TextAreaField("方案介绍", validators=[REQUIRED])
    domain = SelectField("所属领域", validators=[REQUIRED])
    industries = CheckboxesField("适配行业")
    sizes = CheckboxesField("适配企业规模", choices=choices(SIZE_LABELS))
    modules = TextAreaField("核心功能模块（每行一个）", validators=[REQUIRED])
    tags = CheckboxesField("能力标签")
    deployment = SelectField("部署方式", choices=choices(DEPLOYMENTS))
    price_range = StringField("价格区间（如 5-20万元）", validators=[Optional()])
    delivery_weeks = IntegerField("交付周期（周）", validators=[Optional()])
    maturity_band = SelectField("适用的智能制造能力成熟度", choices=choices(MATURITY_BANDS), default="")


class NeedForm(BaseForm):
    title = StringField("需求标题（可不填，系统取描述的第一句）", validators=[Optional()])
    description = TextAreaField("需求描述（用自己的话写清现状、痛点和想达到的效果）", validators=[REQUIRED])
    industry = SelectField("行业", validators=[REQUIRED])
    domains = CheckboxesField("需要的服务领域（可不选，系统会推荐）")
    tags = CheckboxesField("能力标签（可不选，系统会推荐）")
    budget_range = StringField("预算范围（如 10-30万元）", validators=[Optional()])
    expected_start = StringField("预期开始时间（年-月，如 2027-03）", validators=[Optional()])
    target_maturity = SelectField(
        "希望达到的智能制造能力成熟度（可不填）", choices=choices(MATURITY_LEVELS | {0: "不填"}), default="0"
    )
    suggest = SubmitField("智能识别领域和标签")


class NoteForm(BaseForm):
    note = TextAreaField("补充说明", validators=[Optional()])


class DecisionForm(BaseForm):
    action = HiddenField(validators=[REQUIRED])
    reason = TextAreaField("理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写操作理由")])
    rectify_by = DateField("整改期限（仅“警告”时填写）", validators=[Optional()])


class AppealForm(BaseForm):
    reason = TextAreaField("申诉理由（每个决定只能申诉一次）", validators=[DataRequired(message="请填写申诉理由")])


class ConfirmForm(BaseForm):
    """A bare POST form: only the CSRF token."""


STAR_CHOICES = choices({n: f"{n} 星" for n in range(1, 6)})


class RatingAdjustForm(BaseForm):
    stars = SelectField("调整为", choices=STAR_CHOICES, coerce=int)
    reason = TextAreaField("理由（必填，将记入审计日志）", validators=[DataRequired(message="调整评级须填写理由")])


class RatingPublishForm(BaseForm):
    period = HiddenField(validators=[REQUIRED])
    reason = TextAreaField("公布说明（必填，将记入审计日志）", validators=[DataRequired(message="公布评级须填写说明")])


class RatingAppealDecisionForm(BaseForm):
    action = HiddenField(validators=[REQUIRED])  # upheld | dismissed
    stars = SelectField("申诉成立时改为", choices=STAR_CHOICES, coerce=int)
    reason = TextAreaField("处理理由（必填，将记入审计日志）", validators=[DataRequired(message="请填写处理理由")])


class ProjectForm(BaseForm):
    """An application to the 数字化技改项目白名单; the service checks the values (bounds, dates, providers)."""

    docking_id = HiddenField()
    name = StringField("项目名称", validators=[REQUIRED])
    content = TextAreaField("建设内容（改造的产线/环节、部署的系统和装备）", validators=[REQUIRED])
    total_investment = DecimalField("总投资（万元）", validators=[InputRequired(message="请填写总投资")], places=None)
    digital_investment = DecimalField(
        "其中数字化投资（万元，软件、系统、智能装备等）",
        validators=[InputRequired(message="请填写数字化投资")],
        places=None,
    )
    start_on = DateField("计划开始日期", validators=[InputRequired(message="请填写计划开始日期")])
    end_on = DateField("计划完成日期", validators=[InputRequired(message="请填写计划完成日期")])
    provider_ids = CheckboxesField("参与的服务商（信息库内，可多选）", coerce=int)
    other_providers = StringField("其他服务商（不在信息库内的，可不填）", validators=[Optional()])
    expected_result = TextAreaField("预期成效（如效率提升、目标成熟度等级）", validators=[REQUIRED])
    target_maturity = SelectField(
        "目标智能制造能力成熟度（可不填）", choices=choices(MATURITY_LEVELS | {0: "不填"}), default="0", coerce=int
    )


class ProjectDecisionForm(DecisionForm):
    """An admin step on a retrofit project; the scores are read only for 评审打分."""

    investment = IntegerField("投资规模（0-25）", validators=[Optional()])
    digital_share = IntegerField("数字化投入占比（0-25）", validators=[Optional()])
    provider = IntegerField("服务商实力（0-25）", validators=[Optional()])
    replicability = IntegerField("可复制推广性（0-25）", validators=[Optional()])


class ProgressForm(BaseForm):
    percent = IntegerField("完成比例（%）", validators=[Optional()])
    note = TextAreaField("进展说明", validators=[DataRequired(message="请填写说明")])


class ReasonForm(BaseForm):
    reason = TextAreaField("理由", validators=[DataRequired(message="请填写理由")])
