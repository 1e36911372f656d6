"""Validated input schemas: what a form, an import row or an API call hands to a service.

Rules live in `models.validation`; these schemas apply them, so every entry point validates alike.
Table rows are then built with `Table.model_validate(schema.model_dump() | extra)`.
"""

import re
from datetime import date
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, EmailStr, ValidationError, ValidationInfo, field_validator, model_validator
from sqlmodel import Field, SQLModel

from models.validation import (
    AI_SCENARIOS,
    FACTORY_TIERS,
    MATURITY_BANDS,
    MATURITY_SOURCES,
    PINGSHAN_STREETS,
    SIZE_CLASSES,
    credit_code_error,
    month_error,
    password_error,
    phone_error,
    text_error,
)


def _credit_code(value: str) -> str:
    value = value.strip().upper()
    error = credit_code_error(value)
    if error:
        raise ValueError(error)
    return value


def _phone(value: str) -> str:
    value = value.strip()
    error = phone_error(value)
    if error:
        raise ValueError(error)
    return value


def _clean_list(values: list[str]) -> list[str]:
    """Strip, drop blanks and duplicates, keep order."""
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value)
    return list(seen)


def _password(value: str) -> str:
    error = password_error(value)
    if error:
        raise ValueError(error)
    return value


class Input(SQLModel):
    """Every input schema: no control characters in any text (a list's items included), and no line
    break but in the fields named in MULTILINE. Forms, imports and the API all validate through a
    schema, so this one rule holds at every door."""

    MULTILINE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        multiline = info.field_name in cls.MULTILINE
        for text in value if isinstance(value, list | tuple) else (value,):
            error = text_error(text, multiline) if isinstance(text, str) else None
            if error:
                raise ValueError(error)
        return value


CreditCode = Annotated[str, AfterValidator(_credit_code)]
Password = Annotated[str, AfterValidator(_password)]
Phone = Annotated[str, AfterValidator(_phone)]
CleanList = Annotated[list[str], AfterValidator(_clean_list)]


class AccountCreate(Input):
    email: EmailStr
    password: Password
    display_name: str = Field(min_length=1, max_length=100)


class EnterpriseProfile(Input):
    name: str = Field(min_length=2, max_length=120)
    credit_code: CreditCode
    industry: str = Field(min_length=1, max_length=40)
    employees: int = Field(ge=0, le=10_000_000)
    revenue: float = Field(ge=0, le=1e9)
    maturity_level: int = Field(default=0, ge=0, le=5)
    maturity_source: str = ""
    maturity_assessed_on: date | None = None
    maturity_certificate: str = Field(default="", max_length=60)
    factory_tier: str = ""
    factory_tier_year: int | None = Field(default=None, ge=2015, le=2100)
    street: str
    address: str = Field(default="", max_length=200)
    contact_name: str = Field(min_length=1, max_length=40)
    phone: Phone
    email: EmailStr

    @field_validator("street")
    @classmethod
    def _street(cls, value: str) -> str:
        if value not in PINGSHAN_STREETS:
            raise ValueError("请选择坪山区的街道")
        return value

    @field_validator("maturity_source")
    @classmethod
    def _maturity_source(cls, value: str) -> str:
        if value and value not in MATURITY_SOURCES:
            raise ValueError("请选择成熟度等级的来源")
        return value

    @field_validator("factory_tier")
    @classmethod
    def _factory_tier(cls, value: str) -> str:
        if value not in FACTORY_TIERS:
            raise ValueError("请选择智能工厂等级")
        return value

    @model_validator(mode="after")
    def _maturity(self) -> Self:
        """An assessed level carries its date and certificate; an unassessed one carries nothing; a tier
        its year. Values that belong to nothing are dropped rather than kept out of sight."""
        self.maturity_certificate = self.maturity_certificate.strip()
        if not self.maturity_level:
            self.maturity_source, self.maturity_assessed_on, self.maturity_certificate = "", None, ""
        elif self.maturity_source != "assessed":
            self.maturity_source, self.maturity_assessed_on, self.maturity_certificate = "self", None, ""
        elif self.maturity_assessed_on is None or not self.maturity_certificate:
            raise ValueError("已评估的成熟度等级需填写评估日期和证书编号")
        elif self.maturity_assessed_on > date.today():
            raise ValueError("成熟度评估日期不能晚于今天")
        if not self.factory_tier:
            self.factory_tier_year = None
        elif self.factory_tier_year is None:
            raise ValueError("请填写智能工厂的认定年份")
        return self


class ProviderProfile(Input):
    MULTILINE = frozenset({"service_content", "capabilities", "qualifications"})

    name: str = Field(min_length=2, max_length=120)
    credit_code: CreditCode
    contact_name: str = Field(min_length=1, max_length=40)
    phone: Phone
    email: EmailStr
    domains: CleanList = Field(default_factory=list)
    service_content: str = Field(default="", max_length=4000)
    capabilities: str = Field(default="", max_length=4000)
    qualifications: str = Field(default="", max_length=2000)
    website: str = Field(default="", max_length=200)
    years_in_shenzhen: int = Field(default=0, ge=0, le=100)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"^https?://[^\s]+$", value):
            raise ValueError("网址应以 http:// 或 https:// 开头")
        return value


class EnterpriseRegistration(EnterpriseProfile):
    """Sign-up: the company profile plus a password; the contact email is the login."""

    password: Password


class ProviderRegistration(ProviderProfile):
    password: Password


class SuccessCaseCreate(Input):
    MULTILINE = frozenset({"description"})

    title: str = Field(min_length=2, max_length=120)
    client: str = Field(default="", max_length=120)
    industry: str = Field(default="general", max_length=40)
    year: int | None = Field(default=None, ge=1990, le=2100)
    description: str = Field(default="", max_length=4000)
    ai_scenarios: CleanList = Field(default_factory=list)

    @field_validator("ai_scenarios")
    @classmethod
    def _ai_scenarios(cls, value: list[str]) -> list[str]:
        if any(scenario not in AI_SCENARIOS for scenario in value):
            raise ValueError("请从列出的人工智能赋能场景中选择")
        return value


class SolutionWrite(Input):
    MULTILINE = frozenset({"description"})

    title: str = Field(min_length=2, max_length=120)
    summary: str = Field(default="", max_length=300)
    description: str = Field(min_length=10, max_length=8000)
    domain: str = Field(min_length=1, max_length=40)
    industries: CleanList = Field(min_length=1)
    sizes: list[str] = Field(min_length=1)
    modules: CleanList = Field(min_length=1, max_length=30)
    tags: CleanList = Field(default_factory=list, max_length=30)
    deployment: str = Field(default="", max_length=20)
    price_range: str = Field(default="", max_length=60)
    delivery_weeks: int | None = Field(default=None, ge=0, le=520)
    maturity_band: str = ""

    @field_validator("maturity_band")
    @classmethod
    def _maturity_band(cls, value: str) -> str:
        if value not in MATURITY_BANDS:
            raise ValueError("请选择方案适用的成熟度区间")
        return value

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[str]) -> list[str]:
        value = _clean_list(value)
        if any(size not in SIZE_CLASSES for size in value):
            raise ValueError("企业规模只能是 大型、中型、小型、微型")
        return value


class NeedCreate(Input):
    MULTILINE = frozenset({"description"})

    title: str = Field(default="", max_length=120)  # empty: derived from the description
    description: str = Field(min_length=10, max_length=4000)
    industry: str = Field(min_length=1, max_length=40)
    domains: CleanList = Field(default_factory=list)
    tags: CleanList = Field(default_factory=list, max_length=30)
    budget_range: str = Field(default="", max_length=60)
    expected_start: str = Field(default="", max_length=7)
    target_maturity: int = Field(default=0, ge=0, le=5)

    @field_validator("expected_start")
    @classmethod
    def _month(cls, value: str) -> str:
        error = month_error(value.strip())
        if error:
            raise ValueError(error)
        return value.strip()


_MESSAGES = {
    "missing": "此项为必填项",
    "string_too_short": "至少需要{min_length}个字符",
    "string_too_long": "不能超过{max_length}个字符",
    "too_short": "至少需要{min_length}项",
    "too_long": "最多{max_length}项",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "int_parsing": "请输入整数",
    "int_from_float": "请输入整数",
    "float_parsing": "请输入数字",
}


def error_messages(exc: ValidationError) -> dict[str, str]:
    """Field name -> one Chinese message, from a pydantic ValidationError."""
    found: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "__all__"
        if error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            if "email" in message:
                message = "邮箱格式不正确"
        else:
            template = _MESSAGES.get(error["type"], "输入内容不正确")
            message = template.format(**error.get("ctx", {}))
        found.setdefault(field, message)
    return found
