"""The public catalogue: solutions of approved providers, the provider directory, the taxonomy.

Any valid key may read it; only approved (入库) providers and their published solutions appear, and
anything else answers 404 as if it did not exist.
"""

from matchmaker.api import bp
from matchmaker.api.errors import ApiError
from matchmaker.api.present import provider_out, solution_brief, solution_out
from matchmaker.api.registry import ID, operation, service_error
from matchmaker.api.schemas import (
    DomainOut,
    IndustryOut,
    ProviderOut,
    ProviderPage,
    ProviderQuery,
    SolutionOut,
    SolutionPage,
    SolutionQuery,
    TagOut,
    TaxonomyOut,
)
from matchmaker.plumbing.db import engine, get_session
from matchmaker.plumbing.extensions import search_index
from matchmaker.services import catalogue, ratings, taxonomy
from matchmaker.services.errors import ServiceError
from models import ApiKey


@operation(
    bp,
    "GET",
    "/solutions",
    tag="服务方案",
    summary="服务方案列表与检索",
    query=SolutionQuery,
    read_only=True,
    response=SolutionPage,
)
def list_solutions(key: ApiKey, query: SolutionQuery) -> SolutionPage:
    """已入库服务商的已发布方案，可按服务领域、行业、企业规模和关键词筛选；按编号排序，分页稳定。
    需要按相关度排序时请用 POST /match。"""
    try:
        rows, total = catalogue.solutions_page(
            get_session(),
            engine(),
            search_index(),
            query.page,
            query.per_page,
            text=query.q,
            domain=query.domain,
            industry=query.industry,
            size=query.size,
        )
    except ServiceError as error:
        raise service_error(error) from None
    return SolutionPage(
        items=[solution_brief(solution, provider) for solution, provider in rows],
        page=query.page,
        per_page=query.per_page,
        total=total,
    )


@operation(
    bp,
    "GET",
    f"/solutions/<{ID}:solution_id>",
    tag="服务方案",
    summary="读取一个服务方案",
    read_only=True,
    response=SolutionOut,
)
def read_solution(key: ApiKey, solution_id: int) -> SolutionOut:
    """草稿、已撤回的方案和未在库服务商的方案一律返回 404。"""
    try:
        return solution_out(*catalogue.solution(get_session(), solution_id))
    except ServiceError as error:
        raise ApiError(404, error.message) from None


def _provider_outs(providers: list) -> list[ProviderOut]:
    session = get_session()
    ids = [provider.id for provider in providers]
    cases, counts = catalogue.cases_of(session, ids), catalogue.solution_counts(session, ids)
    standing = ratings.standing(session, ids)
    return [
        provider_out(provider, cases[provider.id], counts[provider.id], standing.get(provider.id))
        for provider in providers
    ]


@operation(
    bp,
    "GET",
    "/providers",
    tag="服务商",
    summary="服务商名录",
    query=ProviderQuery,
    read_only=True,
    response=ProviderPage,
)
def list_providers(key: ApiKey, query: ProviderQuery) -> ProviderPage:
    """已入库（白名单内）的服务商，含服务领域和成功案例。"""
    try:
        rows, total = catalogue.providers_page(
            get_session(), query.page, query.per_page, text=query.q, domain=query.domain
        )
    except ServiceError as error:
        raise service_error(error) from None
    return ProviderPage(items=_provider_outs(rows), page=query.page, per_page=query.per_page, total=total)


@operation(
    bp,
    "GET",
    f"/providers/<{ID}:provider_id>",
    tag="服务商",
    summary="读取一个服务商",
    read_only=True,
    response=ProviderOut,
)
def read_provider(key: ApiKey, provider_id: int) -> ProviderOut:
    """未入库、已暂停或已撤销的服务商返回 404。"""
    try:
        provider = catalogue.provider(get_session(), provider_id)
    except ServiceError as error:
        raise ApiError(404, error.message) from None
    return _provider_outs([provider])[0]


@operation(
    bp, "GET", "/taxonomy", tag="分类", summary="服务领域、行业和能力标签代码", read_only=True, response=TaxonomyOut
)
def read_taxonomy(key: ApiKey) -> TaxonomyOut:
    """其他接口中使用的代码及其中文名称。"""
    session = get_session()
    return TaxonomyOut(
        domains=[DomainOut.model_validate(d) for d in taxonomy.domains(session)],
        industries=[IndustryOut.model_validate(i) for i in taxonomy.industries(session)],
        tags=[TagOut.model_validate(t) for t in taxonomy.tags(session)],
    )
