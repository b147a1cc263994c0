"""The app's URLs plus two benchmark floors: what any signed-in request costs.

- bench:floor renders a page in the site layout (navigation, messages) with nothing in it:
  every page pays for this, so page timings are compared with it.
- bench:bare answers "ok" without a template: the cost of the middleware stack alone.

When the app registers no admin for StudySession, a separate admin site registers one with a
plain ModelAdmin, as a team without TrialTracker would, so its changelist can be compared.
"""

from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path
from django.views.decorators.http import require_GET

from sessions.models import StudySession
from trialtracker.urls import handler403, handler404, handler500  # noqa: F401
from trialtracker.urls import urlpatterns as app_urlpatterns


@require_GET
def floor(request):
    return render(request, "bench/floor.html")


@require_GET
def bare(request):
    return HttpResponse("ok", content_type="text/plain")


bench_patterns = [path("floor/", floor, name="floor"), path("bare/", bare, name="bare")]

if StudySession in admin.site._registry:
    ADMIN_CHANGELIST = "admin:trial_sessions_studysession_changelist"
    extra = []
else:

    class PlainStudySessionAdmin(admin.ModelAdmin):
        list_display = ["participant", "definition", "status", "scheduled_start", "room"]
        list_filter = ["status"]
        list_select_related = ["participant", "definition", "room"]

    bench_admin = admin.AdminSite(name="bench_admin")
    bench_admin.register(StudySession, PlainStudySessionAdmin)
    ADMIN_CHANGELIST = "bench_admin:trial_sessions_studysession_changelist"
    extra = [path("bench-admin/", bench_admin.urls)]

urlpatterns = [path("bench/", include((bench_patterns, "bench"))), *extra, *app_urlpatterns]
