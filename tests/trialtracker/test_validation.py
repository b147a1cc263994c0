from datetime import date, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from trialtracker.validation import PlainTextField, check_plausible_date, clean_text, local_datetime

DENVER = ZoneInfo("America/Denver")
LONDON = ZoneInfo("Europe/London")


def test_clean_text_strips_and_keeps_plain_text():
    assert clean_text("  PREP1 went well  ", max_length=50) == "PREP1 went well"


def test_clean_text_refuses_control_characters():
    with pytest.raises(ValidationError, match="U\\+0000"):
        clean_text("abc\x00def", max_length=50)
    with pytest.raises(ValidationError, match="U\\+202E"):
        clean_text("abc\u202edef", max_length=50)


def test_clean_text_allows_line_breaks_only_when_multiline():
    assert clean_text("line one\r\nline two", max_length=50, multiline=True) == "line one\nline two"
    with pytest.raises(ValidationError, match="line breaks"):
        clean_text("line one\nline two", max_length=50)


def test_clean_text_names_the_limit_when_too_long():
    with pytest.raises(ValidationError, match="Keep this to 5 characters \\(it has 6\\)"):
        clean_text("abcdef", max_length=5)


@given(st.text(max_size=80))
def test_clean_text_either_refuses_or_returns_printable_text(value):
    try:
        cleaned = clean_text(value, max_length=60, multiline=True)
    except ValidationError:
        return
    assert len(cleaned) <= 60
    assert all(c.isprintable() or c in "\n\t" or c.isspace() for c in cleaned)


def test_plain_text_field_cleans_through_clean_text():
    field = PlainTextField(max_length=10, required=False)
    assert field.clean("  ok ") == "ok"
    assert field.widget.attrs["maxlength"] == "10"
    with pytest.raises(ValidationError):
        field.clean("x" * 11)


def test_local_datetime_gives_an_aware_moment():
    moment = local_datetime(date(2026, 7, 1), time(9, 30), DENVER)
    assert moment.utcoffset().total_seconds() == -6 * 3600
    assert moment.hour == 9


@pytest.mark.parametrize(
    "day, at, tz",
    [(date(2026, 3, 8), time(2, 30), DENVER), (date(2026, 3, 29), time(1, 15), LONDON)],
)
def test_local_datetime_refuses_a_time_in_the_spring_gap(day, at, tz):
    with pytest.raises(ValidationError, match="does not exist"):
        local_datetime(day, at, tz)


@pytest.mark.parametrize(
    "day, at, tz",
    [(date(2026, 11, 1), time(1, 30), DENVER), (date(2026, 10, 25), time(1, 15), LONDON)],
)
def test_local_datetime_refuses_a_time_that_happens_twice(day, at, tz):
    with pytest.raises(ValidationError, match="happens twice"):
        local_datetime(day, at, tz)


def test_plausible_dates():
    today = date(2026, 11, 21)
    assert check_plausible_date(date(2026, 12, 1), label="Start", today=today) == date(2026, 12, 1)
    with pytest.raises(ValidationError, match="years ago"):
        check_plausible_date(date(1926, 12, 1), label="Start", today=today)
    with pytest.raises(ValidationError, match="years ahead"):
        check_plausible_date(date(2062, 12, 1), label="Start", today=today)


@pytest.mark.parametrize("text", ["Gave 120 mg at 10:00", "1.5mg", "80 µg", "top-up 2 ml"])
def test_clean_text_refuses_dose_amounts(text):
    with pytest.raises(ValidationError, match="records no dose amounts"):
        clean_text(text, max_length=200, multiline=True)


@pytest.mark.parametrize("text", ["Session ran 90 minutes", "DOSE2 went as planned", "Room 12 was used", "img"])
def test_clean_text_keeps_ordinary_numbers(text):
    assert clean_text(text, max_length=200) == text
