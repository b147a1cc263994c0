"""Pages every role shares: home, health check, error pages."""

import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sessions.access import Role, roles_by_site, user_roles
from sessions.review import selectors as review_selectors
from sessions.selectors import sites_for_user
from trialtracker.security import LoginForm

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Load-balancer probe: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: database unreachable")
        return JsonResponse({"status": "error", "checks": {"database": "unreachable"}}, status=503)
    return JsonResponse({"status": "ok", "checks": {"database": "ok"}})


@require_GET
def home(request):
    """Each role's dashboard: coordinators their lists of work, staff their sessions, monitors an overview."""
    roles = roles_by_site(request.user)
    sites = sites_for_user(request.user)
    site_roles = [(site, sorted(roles[site.id])) for site in sites]
    held = user_roles(request.user)
    context = {"site_roles": site_roles}
    if Role.COORDINATOR in held:
        coordinated = [site for site in sites if Role.COORDINATOR in roles[site.id]]
        context["coordinator"] = review_selectors.coordinator_dashboard(request.user, sites=coordinated)
    if Role.STAFF in held:
        context["my_sessions"] = review_selectors.staff_sessions(request.user)
        context["to_record"] = review_selectors.staff_to_record(request.user)
    if Role.MONITOR in held:
        context["monitor"] = review_selectors.monitor_overview(request.user)
    return render(request, "trialtracker/home.html", context)


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signed_out_idle"] = self.request.GET.get("idle") == "1"
        return context


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # Rendered without the request: no context processor may hit a database that is down.
    return HttpResponseServerError(loader.render_to_string("500.html"))
