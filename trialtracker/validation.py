"""Input checks every form shares: plain text, site-local times and plausible dates.

A monitor will paste anything into a form. These refuse what a trial record must not hold
(control characters, runaway text) and what a clock cannot mean (a time inside a daylight-
saving gap, or one that happens twice), each with a message a coordinator can act on.
"""

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

ALLOWED_MULTILINE = {"\n", "\t"}
# A number followed by a mass or volume unit: "120 mg", "1.5mg", "80 µg", "2 ml". Rule 1 of the app: no dose
# amounts are recorded anywhere, not even in free-text notes.
DOSE_AMOUNT = re.compile(
    r"(?<![\w.,])\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|μg|ug|ml|milligrams?|micrograms?|millilitres?|milliliters?)(?![a-z])",
    re.IGNORECASE,
)


def clean_text(value: str | None, *, max_length: int, multiline: bool = False) -> str:
    """Stripped text, refused when it holds control characters or is longer than `max_length`."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = ALLOWED_MULTILINE if multiline else set()
    for char in text:
        if char in allowed:
            continue
        # Cc = control, Cf = invisible format characters (e.g. right-to-left override), Cs/Co/Cn = unusable.
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            where = "" if multiline else " (line breaks and tabs included)"
            raise ValidationError(
                f"Remove the control or invisible character U+{ord(char):04X}{where}; plain text only.",
                code="control_character",
            )
    amount = DOSE_AMOUNT.search(text)
    if amount:
        raise ValidationError(
            f"Remove “{amount.group(0)}”: TrialTracker records no dose amounts. The trial protocol and the "
            "site's investigational-product records hold those.",
            code="dose_amount",
        )
    if len(text) > max_length:
        raise ValidationError(
            f"Keep this to {max_length} characters (it has {len(text)}).",
            code="too_long",
        )
    return text


class PlainTextField(forms.CharField):
    """A CharField that refuses control characters and over-long text with a clear message."""

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs):
        self.multiline = multiline
        if multiline:
            kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4}))
        # Length is checked by clean_text so the message names the count; the widget still hints it.
        super().__init__(max_length=None, **kwargs)
        self.text_max_length = max_length
        self.widget.attrs.setdefault("maxlength", str(max_length))

    def to_python(self, value):
        return clean_text(super().to_python(value), max_length=self.text_max_length, multiline=self.multiline)


def local_datetime(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware moment that a site-local date and clock time mean.

    Refused when the clock skips that time (spring forward) or shows it twice (fall back):
    a session record must name one real moment.
    """
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        # Round-tripping through UTC tells a gap (the time does not exist) from an overlap.
        if first.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None) != naive:
            raise ValidationError(
                f"{at:%H:%M} on {day:%d %b %Y} does not exist in {tz.key}: the clocks skip it for "
                "daylight-saving time. Choose a time outside the gap.",
                code="nonexistent_time",
            )
        raise ValidationError(
            f"{at:%H:%M} on {day:%d %b %Y} happens twice in {tz.key} because daylight-saving time "
            "ends that night. Choose a time outside the repeated hour.",
            code="ambiguous_time",
        )
    return first


def check_plausible_date(
    day: date, *, label: str, today: date | None = None, past_years: int = 5, future_years: int = 3
) -> date:
    """Refuse dates a trial record cannot mean (typos such as 2062 or 1926)."""
    today = today or timezone.localdate()
    earliest = today - timedelta(days=365 * past_years)
    latest = today + timedelta(days=365 * future_years)
    if day < earliest:
        raise ValidationError(
            f"{label} {day:%d %b %Y} is more than {past_years} years ago; check the year.", code="too_far_past"
        )
    if day > latest:
        raise ValidationError(
            f"{label} {day:%d %b %Y} is more than {future_years} years ahead; check the year.",
            code="too_far_future",
        )
    return day
