"""An enterprise's postal address as pages and the docking contact show it."""

from models import Enterprise


def address(street: str, detail: str) -> str:
    return Enterprise(street=street, address=detail).full_address


def test_district_and_street_go_before_the_detail_once():
    assert address("坑梓街道", "荣田路199号金辉产业园A栋2楼") == "深圳市坪山区坑梓街道荣田路199号金辉产业园A栋2楼"
    assert address("龙田街道", "深圳市坪山区龙田街道锦绣东路173号") == "深圳市坪山区龙田街道锦绣东路173号"
    assert address("碧岭街道", "") == "深圳市坪山区碧岭街道"
