"""What the API reads and writes, as pydantic models: the OpenAPI document is generated from these.

Inputs that the web forms also take are the forms' own schemas (`models.schemas.NeedCreate`); the
rest are here. Responses are built from rows with `from_attributes`, so a field renamed on a table
fails loudly in the tests instead of quietly vanishing from the contract.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from models.tables import NeedStatus
from models.validation import MAX_ID
from models.workflow import DockingStatus

SizeClass = Literal["large", "medium", "small", "micro"]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors and pages ----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="机器可读的错误代码，如 validation_failed、not_found")
    message: str = Field(description="中文错误说明，可直接展示给用户")
    fields: dict[str, str] = Field(description="字段名 → 该字段的错误说明；与具体字段无关时为空对象")


class ErrorBody(BaseModel):
    error: ErrorDetail


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=10_000, description="页码，从 1 开始")
    per_page: int = Field(default=20, ge=1, le=100, description="每页条数，最多 100")


class PageOut(BaseModel):
    page: int = Field(description="当前页码")
    per_page: int = Field(description="每页条数")
    total: int = Field(description="符合条件的总条数")


# --- matching ------------------------------------------------------------------------------------


class MatchRequest(BaseModel):
    text: str = Field(min_length=4, max_length=4000, description="需求描述（一段话即可）")
    industry: str | None = Field(default=None, max_length=40, description="行业代码，见 GET /taxonomy；可省略")
    size: SizeClass | None = Field(
        default=None, description="企业规模：large 大型、medium 中型、small 小型、micro 微型"
    )
    top_n: int = Field(default=10, ge=1, le=20, description="返回的方案数")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 4:
            raise ValueError("请用一句话描述需求（至少 4 个字）")
        return value


class ScoreParts(BaseModel):
    """各信号在综合匹配度中的加权贡献，相加等于 score。"""  # a schema description: shown in the docs

    semantic: float = Field(description="语义相似度")
    lexical: float = Field(description="关键词匹配")
    industry: float = Field(description="行业适配")
    size: float = Field(description="规模适配")
    tags: float = Field(description="能力标签")
    domain: float = Field(description="服务领域")
    maturity: float = Field(description="智能制造能力成熟度适配")
    rating: float = Field(description="服务商评星先验：3 星或尚无评级为 0，5 星 +0.015，1 星 -0.015")


class PointOut(Out):
    point: str = Field(description="需求要求的一项能力（能力标签名）；需求未提及任何能力时为需求中的一句")
    module: str = Field(description="方案中覆盖该要点的功能模块或语句；未覆盖时为“未覆盖”")
    covered: bool
    sentence: str = Field("", description="该要点出自需求中的哪一句")


class ExplanationOut(Out):
    industry: str = Field(description="行业适配说明")
    size: str = Field(description="规模适配说明")
    tags: list[str] = Field(description="需求与方案共同的能力标签")
    points: list[PointOut] = Field(description="需求要点逐条覆盖情况")


class ProviderRef(Out):
    id: int
    name: str


class SolutionBrief(Out):
    id: int
    title: str
    summary: str
    domain: str = Field(description="服务领域代码")
    industries: list[str] = Field(description="适配行业代码")
    sizes: list[SizeClass] = Field(description="适配企业规模")
    modules: list[str] = Field(description="核心功能模块")
    tags: list[str] = Field(description="能力标签")
    deployment: str = Field(description="部署方式：saas、private、hybrid、onsite 或空")
    price_range: str
    delivery_weeks: int | None = Field(description="交付周期（周）")
    maturity_band: str = Field(description="适用的智能制造能力成熟度等级区间，如 1-2、3-5；空为不限")
    provider: ProviderRef


class MatchItem(BaseModel):
    rank: int = Field(description="名次，从 1 开始")
    score: float = Field(description="综合匹配度，0–1")
    parts: ScoreParts
    explanation: ExplanationOut
    solution: SolutionBrief


class SuggestionOut(Out):
    domains: list[str] = Field(description="从描述中识别出的服务领域代码")
    tags: list[str] = Field(description="从描述中识别出的能力标签")
    industry: str | None = Field(description="从描述中识别出的行业代码")


class MatchResponse(BaseModel):
    items: list[MatchItem]
    suggestion: SuggestionOut


# --- needs ---------------------------------------------------------------------------------------


class NeedOut(Out):
    id: int
    title: str
    description: str
    industry: str
    size_class: str = Field(description="发布时企业的规模")
    domains: list[str]
    tags: list[str]
    budget_range: str
    expected_start: str = Field(description="预期开始时间，年-月")
    target_maturity: int = Field(description="希望达到的智能制造能力成熟度等级 1-5，0 为未填写")
    status: NeedStatus
    created_at: UtcDateTime
    updated_at: UtcDateTime


class NeedPage(PageOut):
    items: list[NeedOut]


class NeedMatches(BaseModel):
    need_id: int
    items: list[MatchItem] = Field(description="发布（或最近一次重新匹配）时保存的排名，已去掉不再可匹配的方案")


# --- catalogue -----------------------------------------------------------------------------------


class SolutionQuery(PageQuery):
    q: str | None = Field(
        default=None, max_length=100, description="关键词，空格分隔的词须全部出现在标题、简介或描述中"
    )
    domain: str | None = Field(default=None, max_length=40, description="服务领域代码")
    industry: str | None = Field(
        default=None, max_length=40, description="行业代码：适配该行业、其相关行业或通用的方案"
    )
    size: SizeClass | None = Field(default=None, description="适配该企业规模的方案")


class SolutionOut(SolutionBrief):
    description: str
    updated_at: UtcDateTime


class SolutionPage(PageOut):
    items: list[SolutionBrief]


class ProviderQuery(PageQuery):
    q: str | None = Field(default=None, max_length=100, description="服务商名称中的关键词")
    domain: str | None = Field(default=None, max_length=40, description="服务领域代码")


class CaseOut(Out):
    id: int
    title: str
    client: str
    industry: str
    year: int | None
    description: str
    ai_scenarios: list[str] = Field(description="人工智能赋能场景，如视觉质检、预测性维护")


class ProviderOut(Out):
    id: int
    name: str
    domains: list[str] = Field(description="服务领域代码")
    service_content: str
    capabilities: str
    qualifications: str
    website: str
    years_in_shenzhen: int
    approved_until: date | None = Field(description="入库有效期至")
    cases: list[CaseOut] = Field(description="成功案例")
    solution_count: int = Field(description="已发布的服务方案数")
    stars: int | None = Field(description="最近一次公布的评星（1-5），尚无评级为 null")
    tier: str | None = Field(description="最近一次公布的评级给出的梯队，如 第一梯队；尚无评级为 null")
    rating_period: str | None = Field(description="该评级的季度，如 2027Q1；尚无评级为 null")


class ProviderPage(PageOut):
    items: list[ProviderOut]


class DomainOut(Out):
    code: str
    name: str


class IndustryOut(Out):
    code: str
    name: str
    kind: str = Field(description="division 国民经济行业大类、cluster 坪山重点产业、general 通用")


class TagOut(Out):
    name: str
    domain: str


class TaxonomyOut(BaseModel):
    domains: list[DomainOut]
    industries: list[IndustryOut]
    tags: list[TagOut]


# --- dockings ------------------------------------------------------------------------------------


class DockingCreate(BaseModel):
    need_id: Id = Field(description="本企业的需求编号")
    solution_id: Id = Field(description="该需求推荐结果中的方案编号")
    message: str = Field(default="", max_length=500, description="给服务商的留言")


class DockingQuery(PageQuery):
    status: DockingStatus | None = Field(default=None, description="只看某一状态")


class DockingEventOut(Out):
    from_status: str = Field(description="原状态；提交申请时为空")
    to_status: str
    note: str
    created_at: UtcDateTime


class DockingOut(Out):
    id: int
    need_id: int
    solution_id: int
    provider_id: int
    enterprise_id: int
    status: DockingStatus
    message: str
    contract_amount: float | None = Field(description="合同金额（万元）")
    contract_date: date | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class DockingDetail(DockingOut):
    timeline: list[DockingEventOut]


class DockingPage(PageOut):
    items: list[DockingOut]
