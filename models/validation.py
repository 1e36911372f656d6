"""Pure domain rules with Chinese messages; shared by schemas, web forms and imports."""

import re

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

SIZE_CLASSES = ("large", "medium", "small", "micro")
SIZE_LABELS = {"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"}

# 《统计上大中小微型企业划分办法（2017）》, 工业 rows: (class, min employees, min revenue in 万元).
_SIZE_LOWER_BOUNDS = (("large", 1000, 40000), ("medium", 300, 2000), ("small", 20, 300))

PINGSHAN_STREETS = ("坪山街道", "马峦街道", "碧岭街道", "石井街道", "坑梓街道", "龙田街道")
MATURITY_LEVELS = {
    0: "未评估",
    1: "一级 规划级",
    2: "二级 规范级",
    3: "三级 集成级",
    4: "四级 优化级",
    5: "五级 引领级",
}
# How the level is known: assessed by a GB/T 39116 assessment body (with date and certificate number)
# or stated by the enterprise itself.
MATURITY_SOURCES = {"assessed": "已评估（有证书）", "self": "自评估"}
# 智能工厂梯度培育 tiers, lowest first; "" = not recognised.
FACTORY_TIERS = {"": "未认定", "basic": "基础级", "advanced": "先进级", "excellent": "卓越级", "leading": "领航级"}
# 人工智能赋能 scenarios a success case may be marked with: the plan selects providers for their
# 人工智能赋能新型工业化成功经验, so the whitelist review shows these.
AI_SCENARIOS = ("视觉质检", "预测性维护", "工艺参数优化", "大模型应用", "智能排产", "能耗优化", "智能仓储物流")
# The maturity levels a solution serves, as "lowest-highest"; "" = not stated (fits any level).
MATURITY_BANDS = {
    "": "不限",
    "1-2": "一至二级：起步（规划、规范）",
    "2-3": "二至三级：规范到集成",
    "3-5": "三级及以上：跨系统集成",
    "4-5": "四级及以上：优化与引领",
}

MAX_ID = 2_147_483_647  # ids are 32-bit on PostgreSQL; larger numbers can name nothing

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def credit_code_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    """None when `code` is a valid 统一社会信用代码, else the reason in Chinese."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位"
    bad = sorted({c for c in code if c not in CREDIT_CODE_ALPHABET})
    if bad:
        return f"统一社会信用代码含有不允许的字符：{'、'.join(bad)}（不使用 I、O、Z、S、V）"
    if credit_code_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确，请核对营业执照"
    return None


def size_class(employees: int, revenue_wan: float) -> str:
    """Company size from employees and revenue (万元): the highest class whose two lower bounds are met."""
    for name, min_employees, min_revenue in _SIZE_LOWER_BOUNDS:
        if employees >= min_employees and revenue_wan >= min_revenue:
            return name
    return "micro"


def phone_error(phone: str) -> str | None:
    if not _PHONE.match(phone.strip()):
        return "请输入有效的手机号（11位）或固定电话（如 0755-12345678）"
    return None


def month_error(value: str) -> str | None:
    """Expected-start months are written YYYY-MM (or left empty)."""
    if value and not re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", value):
        return "预期开始时间格式应为 年-月，例如 2027-03"
    return None


# Passwords that meet the length and letters-and-digits rules but head every leaked-password list;
# compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    """
    password1 password12 password123 passw0rd p@ssw0rd p@ssword1 admin123 admin1234 admin12345 admin888
    abc12345 abc123456 abc123456789 abcd1234 abcd12345 a1234567 a12345678 a123456789 aa123456 aa12345678
    qwer1234 qwerty12 qwerty123 qwerty1234 qwe123456 asd123456 zxc123456 1qaz2wsx 1qaz2wsx3edc zaq12wsx
    1q2w3e4r 1q2w3e4r5t q1w2e3r4 qazwsx123 test1234 test12345 welcome1 letmein1 iloveyou1 woaini1314
    woaini520 sunshine1 football1 monkey123 dragon123 master123 root1234 user1234 china123 123456abc
    12345678a 123456789a 123qweasd 1234qwer 123abc456
    """.split()
)


def password_error(password: str) -> str | None:
    """At least 8 characters with both letters and digits, and none of the most common passwords."""
    if len(password) < 8:
        return "密码至少需要8位"
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return "密码需同时包含字母和数字"
    if password.lower() in COMMON_PASSWORDS:
        return "该密码过于常见，容易被猜中，请换一个"
    return None


# Worded like the JSON API's refusal of the same input (matchmaker/api/registry.py).
CONTROL_CHARACTER_MESSAGE = "含有不允许的字符（空字符等控制字符）"
# C0 control characters but tab, LF and CR (a textarea sends line breaks as CRLF; text pasted from a
# spreadsheet holds tabs). NUL is a 500 on PostgreSQL, which refuses it in text; the others are stored
# but are invisible on the page, and openpyxl refuses exactly this set, so one would break every xlsx
# export holding the row. DEL and C1 controls are not in it: XML and every database take them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
LINE_BREAK_MESSAGE = "不能包含换行，请写在一行内"
# A name or title reaches places that hold one line: an email subject (a CR/LF there made the mail
# library refuse the header and stalled the outbox), a spreadsheet cell, a page heading.
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]")


def text_error(value: str, multiline: bool = False) -> str | None:
    """None when `value` is text a field may hold: no control characters, and no line break unless
    the field takes several lines."""
    if CONTROL_CHARACTERS.search(value):
        return CONTROL_CHARACTER_MESSAGE
    if not multiline and LINE_BREAKS.search(value):
        return LINE_BREAK_MESSAGE
    return None
