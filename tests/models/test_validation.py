import pytest

from models.validation import (
    credit_code_check_char,
    credit_code_error,
    month_error,
    password_error,
    phone_error,
    size_class,
)
from tests.conftest import credit_code

# Published codes of Shenzhen companies (华为技术、腾讯计算机系统、比亚迪股份): real-world data the
# implementation must accept, independent of our own generator.
KNOWN_GOOD = ["914403001922038216", "9144030071526726XG", "91440300192317458F"]


@pytest.mark.parametrize("code", KNOWN_GOOD + [credit_code(n) for n in range(1, 40)])
def test_valid_credit_codes_pass(code):
    assert credit_code_error(code) is None
    assert credit_code_error(code.lower()) is None  # typed in lower case is fine


@pytest.mark.parametrize("code", KNOWN_GOOD)
def test_changing_any_character_breaks_the_check(code):
    for position in range(18):
        replacement = "1" if code[position] != "1" else "2"
        tampered = code[:position] + replacement + code[position + 1 :]
        assert credit_code_error(tampered) is not None, tampered


def test_credit_code_messages_say_what_is_wrong():
    assert "18位" in credit_code_error("9144030012345")
    assert "不允许的字符" in credit_code_error("91440300192203821O")
    good = KNOWN_GOOD[0]
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert "校验位" in credit_code_error(wrong_check)


def test_check_char_matches_the_standard_formula():
    # check = (31 - sum(value * weight) mod 31) mod 31; X (value 30) and G (16) exercise letters.
    assert credit_code_check_char("9144030071526726X") == "G"
    assert credit_code_check_char("91440300192317458") == "F"


@pytest.mark.parametrize(
    ("employees", "revenue", "expected"),
    [
        (19, 100000, "micro"),  # fewer than 20 employees is micro whatever the revenue
        (20, 299, "micro"),  # revenue below 300 万元 is micro
        (20, 300, "small"),
        (299, 1999, "small"),
        (300, 1999, "small"),  # medium needs both lower bounds: falls to small
        (299, 2000, "small"),
        (300, 2000, "medium"),
        (999, 39999, "medium"),
        (1000, 39999, "medium"),  # large needs both: falls to medium
        (999, 40000, "medium"),
        (1000, 40000, "large"),
        (5000, 500, "small"),  # many employees, little revenue
        (0, 0, "micro"),
    ],
)
def test_size_class_boundaries(employees, revenue, expected):
    assert size_class(employees, revenue) == expected


@pytest.mark.parametrize("phone", ["13800138000", "19912345678", "0755-12345678", "075512345678"])
def test_good_phones(phone):
    assert phone_error(phone) is None


@pytest.mark.parametrize("phone", ["12800138000", "1380013800", "abc", "", "+86 138"])
def test_bad_phones(phone):
    assert phone_error(phone)


def test_password_policy():
    assert password_error("short1") == "密码至少需要8位"
    assert password_error("onlyletters") == "密码需同时包含字母和数字"
    assert password_error("12345678") == "密码需同时包含字母和数字"
    assert password_error("Pingshan2026") is None


def test_month_format():
    assert month_error("") is None
    assert month_error("2027-03") is None
    assert month_error("2027-13")
    assert month_error("27-03")
