"""The protocol pages every signed-in role can read: the plan as a table and as a picture."""

from itertools import groupby

from django.shortcuts import render
from django.views.decorators.http import require_GET

from protocols.plan import LAPTOP, PHONE, plan_chart, plan_rows, summarise
from protocols.selectors import get_version_for_user, protocol_versions_for_user


@require_GET
def version_list(request):
    versions = [(version, summarise(version.definitions.all())) for version in protocol_versions_for_user(request.user)]
    protocols = [(protocol, list(items)) for protocol, items in groupby(versions, key=lambda item: item[0].protocol)]
    return render(request, "protocols/version_list.html", {"protocols": protocols})


@require_GET
def version_detail(request, pk):
    version = get_version_for_user(request.user, pk)
    definitions = version.definitions.all()
    rows = plan_rows(definitions)
    context = {
        "version": version,
        "rows": rows,
        "summary": summarise(definitions),
        "charts": [plan_chart(rows, LAPTOP, "plan-wide"), plan_chart(rows, PHONE, "plan-narrow")],
        "dosing_rows": [row for row in rows if row.definition.is_dosing],
    }
    return render(request, "protocols/version_detail.html", context)
