"""Working days (工作日) as public notices count them: weekends and the configured holidays skipped."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from matchmaker.services.errors import ServiceError
from matchmaker.services.stats import LOCAL_OFFSET


def parse_holidays(text: str | Iterable[str] | None) -> frozenset[date]:
    """Holidays from the setting: ISO dates separated by commas, spaces or line breaks (or a list of them)."""
    parts = text.replace(",", " ").split() if isinstance(text, str) else list(text or ())
    try:
        return frozenset(date.fromisoformat(part.strip()) for part in parts if part.strip())
    except ValueError as error:
        raise ServiceError(f"节假日设置中有无法识别的日期：{error}") from error


def is_working_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def notice_period(start: date, days: int, holidays: frozenset[date]) -> tuple[date, date]:
    """A notice published on `start` runs `days` working days: from the first working day on or after
    `start` to the `days`-th working day counting that one as the first."""
    if days < 1:
        raise ServiceError("公示期至少为1个工作日")
    first = start
    while not is_working_day(first, holidays):
        first += timedelta(days=1)
    last, counted = first, 1
    while counted < days:
        last += timedelta(days=1)
        if is_working_day(last, holidays):
            counted += 1
    return first, last


def local_today() -> date:
    """The district's calendar day (北京时间): notices begin and end on it, whatever the server's zone."""
    return (datetime.now(UTC) + LOCAL_OFFSET).date()
