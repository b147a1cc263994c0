"""What a hostile or careless user types, as hypothesis strategies, and a way to see that nothing was written.

Keep example counts modest: CI runs these on two databases (HOSTILE settings below).
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

HOSTILE = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "null\x00byte",
    "bell\x07",
    "line\nbreak",
    "\u202etxt.exe",  # right-to-left override
    "\ufeffbom",
    "<script>alert(1)</script>",
    "'; DROP TABLE trial_sessions_participant; --",
    '=HYPERLINK("http://evil")',
    "../../../../etc/passwd",
    "{{ request.user.password }}",
    "%(secret)s",
    "S01-0001",
    "x" * 5000,
    "é" * 300,
    "\U0001f600" * 50,
]

hostile_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Lu"]), max_size=20),
)

# Days that break clocks: DST starts and ends in both demo zones, far past and far future, leap days.
AWKWARD_DAYS = [
    date(2026, 3, 8),  # America/Denver springs forward (02:00 → 03:00)
    date(2026, 11, 1),  # America/Denver falls back (01:00-02:00 twice)
    date(2026, 3, 29),  # Europe/London springs forward (01:00 → 02:00)
    date(2026, 10, 25),  # Europe/London falls back (01:00-02:00 twice)
    date(2028, 2, 29),
    date(1, 1, 1),
    date(1900, 1, 1),
    date(9999, 12, 31),
]
awkward_days = st.one_of(st.sampled_from(AWKWARD_DAYS), st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
near_days = st.integers(min_value=-400, max_value=400)
awkward_times = st.one_of(st.sampled_from([time(1, 30), time(2, 30), time(0, 0), time(23, 59)]), st.times())

hostile_date_text = st.one_of(
    awkward_days.map(date.isoformat),
    st.sampled_from(["2026-02-30", "0000-00-00", "31/12/2026", "9999-99-99", "2026-13-01", "tomorrow", ""]),
    st.text(max_size=12),
)
hostile_time_text = st.one_of(
    st.sampled_from(["02:30", "01:30", "25:00", "12:60", "23:59:60", "noon", "", "-1:00"]),
    awkward_times.map(lambda t: t.strftime("%H:%M")),
)
hostile_id_text = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63).map(str),
    st.sampled_from(["", "0", "-1", "1.5", "abc", "1e9", "99999999999999999999999", "1 OR 1=1", "[]", "null"]),
)
hostile_int = st.one_of(st.integers(min_value=-(2**31), max_value=2**31), st.sampled_from([0, -1, 2**63 - 1]))


def local_moment(day: date, at: time, zone: str) -> datetime:
    """An aware moment for the day and clock time, possibly one that does not exist or happens twice."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone))


def shifted(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return day


# Tables whose rows change on every request (sign-in sessions, lockout counters) are not "writes".
VOLATILE = {"sessions.Session", "axes.AccessAttempt", "axes.AccessLog", "axes.AccessFailureLog", "admin.LogEntry"}


def snapshot() -> dict[str, int]:
    """Row counts of every table: a refused request must leave every one as it was.

    Each clinical save adds a history row, so an update slipped through shows up here too.
    """
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.label not in VOLATILE and not model._meta.proxy
    }


def changed_tables(before: dict[str, int]) -> dict[str, tuple[int, int]]:
    after = snapshot()
    return {label: (before[label], after[label]) for label in before if before[label] != after[label]}
