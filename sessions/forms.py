"""Forms for the daily work: enrol, book, cancel, log, sign, deviations, withdraw.

Forms parse and validate what a person typed; the services decide what the trial allows.
Dates and times are typed as separate date and time inputs in the site's time zone and
combined with `validation.local_datetime`, which refuses times that do not exist or happen
twice around a daylight-saving change.
"""

import datetime as dt

from django import forms
from django.utils import timezone

from protocols.models import ProtocolVersion
from sessions.models import NO_IDENTIFIERS, STUDY_CODE_PATTERN, Deviation, Participant, StudySession
from trialtracker.security import BoundedModelMultipleChoiceField
from trialtracker.validation import PlainTextField, check_plausible_date, local_datetime

REASON_HELP = "Kept in the audit trail with your name and the time."


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


def reason_field(label, *, required=True, help_text=REASON_HELP):
    return PlainTextField(max_length=500, multiline=True, required=required, label=label, help_text=help_text)


class StaffChoiceField(BoundedModelMultipleChoiceField):
    """Staff as checkboxes by full name; a tampered id outside the integer range is refused, not a 500."""

    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


def _plausible(form, field, label):
    day = form.cleaned_data.get(field)
    if day is not None:
        try:
            check_plausible_date(day, label=label)
        except forms.ValidationError as error:
            form.add_error(field, error)


class ParticipantFilterForm(forms.Form):
    """The search and filters above the participant list (GET; every field optional)."""

    q = PlainTextField(max_length=20, required=False, label="Study code")
    site = forms.ModelChoiceField(queryset=None, required=False, empty_label="All my sites", label="Site")
    status = forms.ChoiceField(choices=[("", "Any status"), *Participant.Status.choices], required=False)

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["q"].widget.attrs.update({"placeholder": "e.g. S01-0007", "type": "search"})


class StudyCodeField(forms.RegexField):
    """Typed " s01-0007" means S01-0007: trimmed and upper-cased before the pattern is checked."""

    def to_python(self, value):
        return super().to_python(value).strip().upper()


class EnrollForm(forms.Form):
    study_code = StudyCodeField(
        regex=STUDY_CODE_PATTERN,
        max_length=20,
        label="Study code",
        help_text="Pseudonymous code, e.g. S01-0007: uppercase letters and digits joined by hyphens. " + NO_IDENTIFIERS,
        error_messages={"invalid": "Use uppercase letters and digits in groups joined by hyphens, e.g. S01-0007."},
    )
    site = forms.ModelChoiceField(
        queryset=None, label="Site", empty_label="Choose a site", help_text="Only sites where you are a coordinator."
    )
    protocol_version = forms.ModelChoiceField(
        queryset=ProtocolVersion.objects.none(),
        empty_label="Choose a protocol version",
        label="Protocol version",
        help_text="Only active versions take new participants.",
    )
    enrollment_date = forms.DateField(widget=DateInput(), label="Enrollment date", help_text="The site's local date.")

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        if sites.count() == 1:
            self.fields["site"].initial = sites.first()
        versions = ProtocolVersion.objects.filter(status=ProtocolVersion.Status.ACTIVE).select_related("protocol")
        self.fields["protocol_version"].queryset = versions.order_by("protocol__code", "label")
        self.fields["study_code"].widget.attrs.update({"autocapitalize": "characters", "autocomplete": "off"})

    def clean_study_code(self):
        return self.cleaned_data["study_code"].strip().upper()

    def clean(self):
        _plausible(self, "enrollment_date", "Enrollment date")
        return super().clean()


class RevisionForm(forms.Form):
    """Carries the session's revision so that a second, stale save is refused, not merged."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class ScheduleForm(RevisionForm):
    day = forms.DateField(widget=DateInput(), label="Date")
    start_time = forms.TimeField(widget=TimeInput(), label="Start time")
    room = forms.ModelChoiceField(queryset=None, label="Room", empty_label="Choose a room")
    therapists = StaffChoiceField(queryset=None, label="Therapists")
    reason = reason_field("Reason for rescheduling", required=False)
    deviation_reason = reason_field(
        "Deviation reason",
        required=False,
        help_text="Why the session must happen outside its protocol window or sequence. "
        "This records a protocol deviation. " + NO_IDENTIFIERS,
    )

    def __init__(self, *args, session: StudySession, rooms, therapists, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.site = session.participant.site
        self.rescheduling = session.scheduled_start is not None
        self.fields["room"].queryset = rooms
        self.fields["therapists"].queryset = therapists
        required = session.definition.therapists_required
        plural = "s" if required != 1 else ""
        self.fields["therapists"].help_text = f"{session.definition.code} needs {required} therapist{plural}."
        self.fields["start_time"].help_text = f"Site time ({self.site.time_zone})."
        if self.rescheduling:
            self.fields["reason"].required = True
            self.fields["reason"].help_text = "Required when moving a booking. " + REASON_HELP
        # Once the window has closed any booking is a deviation: ask for the reason up front.
        today = timezone.now().astimezone(self.site.zone).date()
        self.window_closed = session.window_closes is not None and session.window_closes < today
        # Shown when the start falls outside the window, or when the service asks for it.
        self.needs_deviation = self.window_closed or bool(self.data.get(self.add_prefix("deviation_reason")))

    def clean(self):
        data = super().clean()
        _plausible(self, "day", "Date")
        day, at = data.get("day"), data.get("start_time")
        if day is not None and at is not None:
            try:
                data["start"] = local_datetime(day, at, self.site.zone)
            except forms.ValidationError as error:
                self.add_error("start_time", error)
        therapists = data.get("therapists")
        required = self.session.definition.therapists_required
        if therapists is not None and len(therapists) < required:
            self.add_error("therapists", f"Choose {required} therapists: {self.session.definition.code} needs them.")
        if self.rescheduling and self._unchanged(data):
            raise forms.ValidationError(
                "Nothing changed: it is already booked then, in that room, with those therapists. "
                "Choose a new day, time, room or therapists — or go back."
            )
        opens, closes = self.session.window_opens, self.session.window_closes
        if day is not None and opens and closes and not opens <= day <= closes:
            self.needs_deviation = True
            if not data.get("deviation_reason"):
                self.add_error(
                    "deviation_reason",
                    f"{day:%a %-d %b %Y} is outside the window ({opens:%-d %b} – {closes:%-d %b %Y}). "
                    "Give a deviation reason to book it anyway, or choose a day inside the window.",
                )
        return data

    def _unchanged(self, data) -> bool:
        """A "reschedule" to the very same booking would only add noise to the audit trail."""
        if data.get("start") != self.session.scheduled_start or data.get("room") != self.session.room:
            return False
        current = set(self.session.assignments.filter(is_active=True).values_list("therapist_id", flat=True))
        return {person.pk for person in data.get("therapists") or []} == current


class CancelForm(RevisionForm):
    reason = reason_field("Reason for cancelling")


class LogForm(RevisionForm):
    outcome = forms.ChoiceField(choices=StudySession.Outcome.choices, widget=forms.RadioSelect, label="Outcome")
    start_day = forms.DateField(widget=DateInput(), label="Actual start date", required=False)
    start_time = forms.TimeField(widget=TimeInput(), label="Actual start time", required=False)
    end_day = forms.DateField(widget=DateInput(), label="Actual end date", required=False)
    end_time = forms.TimeField(widget=TimeInput(), label="Actual end time", required=False)
    attended_by = StaffChoiceField(queryset=None, label="Staff present", required=False)
    notes = PlainTextField(max_length=4000, multiline=True, required=False, label="Notes", help_text=NO_IDENTIFIERS)
    reason = reason_field("Reason for the correction", required=False)

    def __init__(self, *args, session: StudySession, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.site = session.participant.site
        self.correction = bool(session.outcome)
        self.fields["attended_by"].queryset = staff
        self.fields["notes"].widget.attrs.update({"rows": 4})
        if self.correction:
            self.fields["reason"].required = True
            self.fields["reason"].help_text = (
                "This record was already logged"
                + (" and signed: saving removes the signature until it is signed again" if session.is_signed else "")
                + ". "
                + REASON_HELP
            )

    def _moment(self, data, day_field, time_field, label):
        day, at = data.get(day_field), data.get(time_field)
        if day is None and at is None:
            return None
        if day is None or at is None:
            self.add_error(day_field if day is None else time_field, f"Give both the date and the time of the {label}.")
            return None
        try:
            check_plausible_date(day, label=f"Actual {label} date")
            return local_datetime(day, at, self.site.zone)
        except forms.ValidationError as error:
            self.add_error(time_field, error)
            return None

    def clean(self):
        data = super().clean()
        start = self._moment(data, "start_day", "start_time", "start")
        end = self._moment(data, "end_day", "end_time", "end")
        outcome = data.get("outcome")
        if outcome and outcome != StudySession.Outcome.MISSED and start is None and not self.has_error("start_time"):
            self.add_error("start_time", "Give the actual start of a session that took place.")
        if start and end and end <= start:
            self.add_error("end_time", "The end must be after the start.")
        if start and start > timezone.now() + dt.timedelta(minutes=5):
            self.add_error("start_time", "A session cannot be logged before it has started.")
        data["actual_start"], data["actual_end"] = start, end
        return data


class SignForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label="Your password",
        help_text="Signing is like signing on paper: re-enter your password to confirm it is you.",
        strip=False,
    )


class DeviationForm(forms.Form):
    category = forms.ChoiceField(choices=Deviation.Category.choices, label="Category")
    session = forms.ModelChoiceField(queryset=None, required=False, label="Session", empty_label="None in particular")
    description = PlainTextField(
        max_length=4000, multiline=True, label="What happened and why", help_text=NO_IDENTIFIERS
    )

    def __init__(self, *args, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions
        self.fields["session"].label_from_instance = lambda s: f"{s.definition.code} · {s.definition.name}"


class CloseDeviationForm(forms.Form):
    resolution = PlainTextField(
        max_length=4000,
        multiline=True,
        label="Resolution",
        help_text="How it was resolved — or, to void a deviation reported in error, why. " + NO_IDENTIFIERS,
    )


class WithdrawForm(forms.Form):
    withdrawn_on = forms.DateField(widget=DateInput(), label="Date of withdrawal", help_text="The site's local date.")
    reason = reason_field("Reason for withdrawal", help_text="Kept in the audit trail. " + NO_IDENTIFIERS)

    def clean(self):
        _plausible(self, "withdrawn_on", "Date of withdrawal")
        return super().clean()
