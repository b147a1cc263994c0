"""The daily-work pages: participants, their sessions, booking, logging, signing, deviations.

Views are thin: every object comes from a scoped selector (another site's object is a 404),
the role is checked through sessions.access (a wrong role is a 403), and every write is one
call to a service, whose refusals come back to the person as form errors.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from protocols.plan import minutes_text
from sessions import forms, pages, selectors, services
from sessions.access import Role, has_role, require_role, site_ids_for
from sessions.models import Deviation, StudySession
from sessions.timeline import participant_timeline

GET_POST = ["GET", "POST"]
Status = StudySession.Status


def _apply_errors(form, error: ValidationError, aliases=None) -> None:
    """Show a service's refusal on the form: by field where the form has that field, else at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            field = (aliases or {}).get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _is_stale(error: ValidationError) -> bool:
    return isinstance(error, getattr(services, "StaleEdit", ()))


def _not_now(request, message: str, back_url: str):
    """The action does not apply to the record as it stands (e.g. an old link): say so, change nothing."""
    return render(request, "sessions/not_now.html", {"message": message, "back_url": back_url})


def _require_coordinator(user, site_id):
    require_role(user, site_id, Role.COORDINATOR)


def _require_logger(user, session):
    """Assigned staff or a coordinator of the session's site may log and sign it."""
    if not pages.can_log(user, session):
        raise PermissionDenied("Only the session's assigned staff or a coordinator can log or sign it.")


# Participants


@require_GET
def participant_list(request):
    user = request.user
    sites = selectors.sites_for_user(user)
    filters = forms.ParticipantFilterForm(request.GET or None, sites=sites)
    participants = selectors.participants_for_user(user)
    if filters.is_valid():
        if code := filters.cleaned_data["q"]:
            participants = participants.filter(study_code__icontains=code)
        if site := filters.cleaned_data["site"]:
            participants = participants.filter(site=site)
        if status := filters.cleaned_data["status"]:
            participants = participants.filter(status=status)
    participants = participants.select_related("site", "protocol_version__protocol").annotate(
        sessions_done=Count("sessions", filter=Q(sessions__status=Status.COMPLETED)),
        sessions_total=Count("sessions", filter=~Q(sessions__status=Status.CANCELLED)),
    )
    page = Paginator(participants.order_by("study_code"), 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "can_enroll": bool(site_ids_for(user, Role.COORDINATOR)),
        "filtered": filters.is_bound and any(filters.data.get(name) for name in ("q", "site", "status")),
    }
    return render(request, "sessions/participant_list.html", context)


@require_http_methods(GET_POST)
def enroll(request):
    sites = selectors.sites_for_user(request.user, Role.COORDINATOR)
    if not sites:
        raise PermissionDenied("Only coordinators enrol participants.")
    form = forms.EnrollForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            participant = services.enroll_participant(
                site=data["site"],
                protocol_version=data["protocol_version"],
                study_code=data["study_code"],
                enrollment_date=data["enrollment_date"],
                by=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"{participant.study_code} is enrolled. Book the first session when it suits.")
            return redirect("sessions:participant_detail", pk=participant.pk)
    return render(request, "sessions/enroll.html", {"form": form})


@require_GET
def participant_detail(request, pk):
    user = request.user
    participant = selectors.get_participant_for_user(user, pk)
    sessions = pages.sessions_of(user, participant)
    deviations = list(participant.deviations.select_related("session__definition", "reported_by", "closed_by"))
    today = timezone.now().astimezone(participant.site.zone).date()
    coordinator = has_role(user, participant.site_id, Role.COORDINATOR)
    rows = [(session, pages.next_action(user, session, coordinator=coordinator)) for session in sessions]
    context = {
        "participant": participant,
        "rows": rows,
        "deviations": deviations,
        "open_deviations": sum(1 for d in deviations if d.status == Deviation.Status.OPEN),
        "history": pages.audit_history(participant, sessions, deviations),
        "can_coordinate": coordinator,
        "timeline": participant_timeline(participant, sessions, today, deviations=deviations),
        "today": today,
    }
    return render(request, "sessions/participant_detail.html", context)


@require_http_methods(GET_POST)
def withdraw(request, pk):
    participant = selectors.get_participant_for_user(request.user, pk)
    _require_coordinator(request.user, participant.site_id)
    if not participant.is_active:
        return _not_now(
            request,
            f"{participant.study_code} is already {participant.get_status_display().lower()}.",
            reverse("sessions:participant_detail", args=[participant.pk]),
        )
    today = timezone.now().astimezone(participant.site.zone).date()
    form = forms.WithdrawForm(request.POST or None, initial={"withdrawn_on": today})
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_participant(
                participant=participant,
                withdrawn_on=form.cleaned_data["withdrawn_on"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"{participant.study_code} is withdrawn; later sessions are cancelled.")
            return redirect("sessions:participant_detail", pk=participant.pk)
    upcoming = pages.sessions_of(request.user, participant).filter(status__in=[Status.SCHEDULED, Status.UNSCHEDULED])
    return render(request, "sessions/withdraw.html", {"participant": participant, "form": form, "upcoming": upcoming})


# Sessions


@require_GET
def session_detail(request, pk):
    user = request.user
    session = selectors.get_session_for_user(user, pk)
    coordinator = has_role(user, session.participant.site_id, Role.COORDINATOR)
    context = {
        "session": session,
        "participant": session.participant,
        "definition": session.definition,
        "therapists": pages.active_therapists(session),
        "attended": list(session.attended_by.all()),
        "anchor": pages.anchor_session(session),
        "deviations": list(session.deviations.select_related("reported_by")),
        "can_coordinate": coordinator,
        "can_log": pages.can_log(user, session),
        "has_started": session.scheduled_start is not None and session.scheduled_start <= timezone.now(),
        "duration": minutes_text(session.definition.duration_minutes),
    }
    return render(request, "sessions/session_detail.html", context)


@require_http_methods(GET_POST)
def schedule(request, pk):
    session = selectors.get_session_for_user(request.user, pk)
    participant, site = session.participant, session.participant.site
    _require_coordinator(request.user, participant.site_id)
    if session.status not in (Status.UNSCHEDULED, Status.SCHEDULED, Status.MISSED) or not participant.is_active:
        return _not_now(
            request,
            f"{session} is {session.get_status_display().lower()}: it cannot be booked now.",
            reverse("sessions:session_detail", args=[session.pk]),
        )
    form = forms.ScheduleForm(
        request.POST or None,
        initial=pages.schedule_initial(session, request.GET),
        session=session,
        rooms=selectors.rooms_for_site(site),
        therapists=selectors.therapists_for_site(site),
    )
    stale = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.schedule_session(
                session=session,
                start=data["start"],
                room=data["room"],
                therapists=list(data["therapists"]),
                by=request.user,
                reason=data["reason"],
                deviation_reason=data["deviation_reason"],
                expected_revision=data["revision"],
            )
        except ValidationError as error:
            stale = _is_stale(error)
            if hasattr(error, "error_dict") and "deviation_reason" in error.error_dict:
                form.needs_deviation = True
            _apply_errors(form, error, {"start": "start_time"})
        else:
            messages.success(request, pages.booked_message(result))
            return redirect("sessions:participant_detail", pk=participant.pk)
    context = {
        "session": session,
        "participant": participant,
        "definition": session.definition,
        "anchor": pages.anchor_session(session),
        "form": form,
        "stale": stale,
        "slots": pages.slot_links(session, selectors.free_slots(session=session)),
        "duration": minutes_text(session.definition.duration_minutes),
        "therapists": pages.active_therapists(session),
    }
    return render(request, "sessions/schedule.html", context)


@require_http_methods(GET_POST)
def cancel(request, pk):
    session = selectors.get_session_for_user(request.user, pk)
    _require_coordinator(request.user, session.participant.site_id)
    if session.status not in (Status.UNSCHEDULED, Status.SCHEDULED):
        return _not_now(
            request,
            f"{session} is {session.get_status_display().lower()}: there is nothing to cancel.",
            reverse("sessions:session_detail", args=[session.pk]),
        )
    form = forms.CancelForm(request.POST or None, initial={"revision": session.revision})
    stale = False
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_session(
                session=session,
                by=request.user,
                reason=form.cleaned_data["reason"],
                expected_revision=form.cleaned_data["revision"],
            )
        except ValidationError as error:
            stale = _is_stale(error)
            _apply_errors(form, error)
        else:
            messages.success(request, f"{session} is cancelled.")
            return redirect("sessions:participant_detail", pk=session.participant_id)
    return render(request, "sessions/cancel.html", {"session": session, "form": form, "stale": stale})


@require_http_methods(GET_POST)
def log(request, pk):
    session = selectors.get_session_for_user(request.user, pk)
    _require_logger(request.user, session)
    if session.status not in (Status.SCHEDULED, Status.COMPLETED, Status.MISSED):
        return _not_now(
            request,
            f"{session} is {session.get_status_display().lower()}: there is nothing to log.",
            reverse("sessions:session_detail", args=[session.pk]),
        )
    form = forms.LogForm(
        request.POST or None,
        initial=pages.log_initial(session),
        session=session,
        staff=selectors.therapists_for_site(session.participant.site),
    )
    stale = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.log_session(
                session=session,
                outcome=data["outcome"],
                actual_start=data["actual_start"],
                actual_end=data["actual_end"],
                attended_by=list(data["attended_by"]),
                notes=data["notes"],
                by=request.user,
                reason=data["reason"],
                expected_revision=data["revision"],
            )
        except ValidationError as error:
            stale = _is_stale(error)
            _apply_errors(form, error, {"actual_start": "start_time", "actual_end": "end_time"})
        else:
            if form.correction and session.is_signed:
                messages.warning(request, "Correction saved. The signature was removed: sign the record again.")
            elif data["outcome"] == StudySession.Outcome.MISSED:
                messages.warning(request, "Recorded as missed. Reschedule it or record a deviation (below).")
            else:
                messages.success(request, "Outcome logged. Sign the record to lock it.")
            return redirect("sessions:session_detail", pk=session.pk)
    return render(request, "sessions/log.html", {"session": session, "form": form, "stale": stale})


@require_http_methods(GET_POST)
def sign(request, pk):
    session = selectors.get_session_for_user(request.user, pk)
    _require_logger(request.user, session)
    if not session.outcome or session.is_signed:
        state = "already signed" if session.is_signed else "not logged yet"
        return _not_now(request, f"{session} is {state}.", reverse("sessions:session_detail", args=[session.pk]))
    form = forms.SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.sign_session(session=session, by=request.user, password=form.cleaned_data["password"])
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Signed. The record is locked; a correction will need a reason.")
            return redirect("sessions:session_detail", pk=session.pk)
    context = {"session": session, "form": form, "meaning": pages.SIGNATURE_MEANING}
    return render(request, "sessions/sign.html", context)


# Deviations


@require_http_methods(GET_POST)
def deviation_create(request, pk):
    participant = selectors.get_participant_for_user(request.user, pk)
    _require_coordinator(request.user, participant.site_id)
    sessions = pages.sessions_of(request.user, participant)
    initial = {"session": request.GET.get("session"), "category": request.GET.get("category")}
    form = forms.DeviationForm(request.POST or None, initial=initial, sessions=sessions)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_deviation(
                participant=participant,
                category=data["category"],
                description=data["description"],
                session=data["session"],
                by=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Deviation recorded.")
            return redirect(reverse("sessions:participant_detail", args=[participant.pk]) + "#deviations")
    return render(request, "sessions/deviation_form.html", {"participant": participant, "form": form})


@require_http_methods(GET_POST)
def deviation_close(request, pk):
    visible = Deviation.objects.filter(participant__in=selectors.participants_for_user(request.user))
    deviation = get_object_or_404(visible.select_related("participant", "session__definition"), pk=pk)
    _require_coordinator(request.user, deviation.participant.site_id)
    if deviation.status != Deviation.Status.OPEN:
        return _not_now(
            request,
            f"This deviation is already {deviation.get_status_display().lower()}.",
            reverse("sessions:participant_detail", args=[deviation.participant_id]),
        )
    form = forms.CloseDeviationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        voiding = request.POST.get("action") == "void"
        text = form.cleaned_data["resolution"]
        try:
            if voiding:  # reported in error: kept on record, marked void, with the reason
                services.void_deviation(deviation=deviation, reason=text, by=request.user)
            else:
                services.close_deviation(deviation=deviation, resolution=text, by=request.user)
        except ValidationError as error:
            _apply_errors(form, error, {"reason": "resolution"})
        else:
            messages.success(request, "Deviation voided." if voiding else "Deviation closed.")
            return redirect(reverse("sessions:participant_detail", args=[deviation.participant_id]) + "#deviations")
    return render(request, "sessions/deviation_close.html", {"deviation": deviation, "form": form})
