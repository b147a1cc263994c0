"""Review pages: site calendar, monitor review, audit search, exports, profile and calendar feed."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sessions import ical
from sessions.access import Role, site_ids_for
from sessions.models import CalendarFeed, Participant, Site
from sessions.review import exports
from sessions.review.audit import AuditQuery, audit_events
from sessions.review.monitor import REVIEW_ROLES, monitor_review, review_filter, review_protocols, review_site_ids
from sessions.review.selectors import calendar_sites_for, get_calendar_site, site_today, site_week

CALENDAR_ROLES = (Role.COORDINATOR, Role.STAFF)


def _require_any_role(user, *roles) -> list[int]:
    """Site ids where the user holds one of `roles`; 403 when there are none."""
    site_ids = site_ids_for(user, *roles)
    if not site_ids:
        raise PermissionDenied("Your role does not include this page.")
    return site_ids


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if date(2000, 1, 1) <= day <= date(2100, 12, 31) else None


@require_GET
def site_calendar(request):
    _require_any_role(request.user, *CALENDAR_ROLES)
    _check_site_param(request, CALENDAR_ROLES)
    site = get_calendar_site(request.user, request.GET.get("site"))
    day = _parse_day(request.GET.get("week")) or site_today(site)
    week = site_week(site, day - timedelta(days=day.weekday()))
    sites = list(calendar_sites_for(request.user))
    return render(request, "review/site_calendar.html", {"week": week, "sites": sites})


class AuditSearchForm(forms.Form):
    participant = forms.CharField(
        required=False, max_length=20, label="Study code", help_text="Exact study code, e.g. S01-0007."
    )
    user = forms.CharField(
        required=False, max_length=150, label="Who", help_text="Login or full name of the person who made the change."
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        for name in ("participant", "user"):
            value = cleaned.get(name) or ""
            if any(ord(ch) < 32 for ch in value):
                self.add_error(name, "Control characters are not allowed.")
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def query(self) -> AuditQuery:
        if not self.is_valid():
            return AuditQuery()
        data = self.cleaned_data
        return AuditQuery(
            study_code=data["participant"] or "",
            username=data["user"] or "",
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


@require_GET
def monitor_review_page(request):
    _require_any_role(request.user, *REVIEW_ROLES)
    _check_site_param(request, REVIEW_ROLES)
    review = review_filter(
        request.user,
        protocol_id=request.GET.get("protocol"),
        site_code=request.GET.get("site"),
        status=request.GET.get("status", ""),
    )
    context = {
        "review": monitor_review(
            review, page_number=request.GET.get("page"), all_out_of_window=request.GET.get("out") == "all"
        )
        if review
        else None,
        # review_filter has read both already; only without a protocol are they read here.
        "protocols": review.protocols if review else list(review_protocols(request.user)),
        "sites": review.sites if review else _review_sites(request.user),
        "statuses": Participant.Status.choices,
    }
    return render(request, "review/monitor_review.html", context)


def _review_sites(user) -> list[Site]:
    return list(Site.objects.filter(pk__in=review_site_ids(user)).order_by("code"))


def _check_site_param(request, roles):
    """A ?site= the user cannot see is a 404; one they see in another role is a 403."""
    code = request.GET.get("site")
    if not code:
        return
    if not Site.objects.filter(code=code, pk__in=site_ids_for(request.user)).exists():
        raise Http404("No such site.")
    if not Site.objects.filter(code=code, pk__in=site_ids_for(request.user, *roles)).exists():
        raise PermissionDenied("Your role at this site does not include this page.")


@require_GET
def audit_search(request):
    site_ids = _require_any_role(request.user, *REVIEW_ROLES)
    form = AuditSearchForm(request.GET or None)
    query = form.query() if request.GET else AuditQuery()
    events = audit_events(site_ids, query)
    return render(request, "review/audit.html", {"form": form, "events": events, "query": query})


def _stream(filename: str, lines) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _export_scope(request):
    site_ids = _require_any_role(request.user, *REVIEW_ROLES)
    _check_site_param(request, REVIEW_ROLES)
    protocol = site = None
    if request.GET.get("protocol"):
        review = review_filter(request.user, protocol_id=request.GET["protocol"], site_code=None, status="")
        protocol = review.protocol if review else None
    if request.GET.get("site"):
        site = Site.objects.get(code=request.GET["site"], pk__in=site_ids)
    return site_ids, protocol, site


@require_GET
def export_sessions(request):
    site_ids, protocol, site = _export_scope(request)
    queryset = exports.session_queryset(site_ids, protocol=protocol, site=site)
    stamp = timezone.now().strftime("%Y%m%d")
    return _stream(
        f"trialtracker-sessions-{stamp}.csv",
        exports.csv_lines(exports.SESSION_COLUMNS, exports.session_rows(queryset)),
    )


@require_GET
def export_deviations(request):
    site_ids, protocol, site = _export_scope(request)
    queryset = exports.deviation_queryset(site_ids, protocol=protocol, site=site)
    stamp = timezone.now().strftime("%Y%m%d")
    return _stream(
        f"trialtracker-deviations-{stamp}.csv",
        exports.csv_lines(exports.DEVIATION_COLUMNS, exports.deviation_rows(queryset)),
    )


@require_GET
def export_audit(request):
    site_ids = _require_any_role(request.user, *REVIEW_ROLES)
    form = AuditSearchForm(request.GET or None)
    query = form.query() if request.GET else AuditQuery()
    stamp = timezone.now().strftime("%Y%m%d")
    return _stream(
        f"trialtracker-audit-{stamp}.csv",
        exports.csv_lines(exports.AUDIT_COLUMNS, exports.audit_rows(site_ids, query)),
    )


@require_GET
def profile(request):
    feed = CalendarFeed.objects.filter(user=request.user).first()
    feed_url = request.build_absolute_uri(_feed_path(feed.token)) if feed else ""
    webcal_url = "webcal://" + feed_url.split("://", 1)[1] if feed_url else ""
    has_staff_role = bool(site_ids_for(request.user, Role.STAFF))
    return render(
        request,
        "review/profile.html",
        {"feed": feed, "feed_url": feed_url, "webcal_url": webcal_url, "has_staff_role": has_staff_role},
    )


def _feed_path(token: str) -> str:
    from django.urls import reverse

    return reverse("review:calendar_feed", args=[token])


@require_POST
def feed_regenerate(request):
    had_feed = CalendarFeed.objects.filter(user=request.user).exists()
    ical.regenerate_feed(user=request.user)
    messages.success(
        request,
        "A new calendar URL was issued; the old one no longer works."
        if had_feed
        else "Your private calendar URL is ready.",
    )
    return redirect("review:profile")


@require_POST
def feed_revoke(request):
    ical.revoke_feed(user=request.user)
    messages.success(request, "Your calendar URL was revoked. Calendars that used it stop updating.")
    return redirect("review:profile")


@login_not_required
@never_cache
@require_GET
def calendar_feed(request, token):
    feed = ical.feed_for_token(token)
    if feed is None:
        raise Http404("No such feed.")
    body = ical.calendar_for(feed.user, host=request.get_host().split(":")[0] or "trialtracker")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="trialtracker.ics"'
    return response
