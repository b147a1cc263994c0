"""The account and role change log: a page and a CSV export for administrators only."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from trialtracker.account_log import account_change_log, write_csv


def _require_admin(user):
    if not user.is_superuser:
        raise PermissionDenied("Only administrators may read the account change log.")


@require_GET
def account_changes(request):
    _require_admin(request.user)
    page = Paginator(account_change_log(), 100).get_page(request.GET.get("page"))
    return render(request, "trialtracker/account_changes.html", {"page": page})


@require_GET
def account_changes_csv(request):
    _require_admin(request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="account-changes-{stamp}.csv"'
    write_csv(account_change_log(), response)
    return response
