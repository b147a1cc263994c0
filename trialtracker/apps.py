from functools import wraps

from django.apps import AppConfig


class TrialTrackerConfig(AppConfig):
    name = "trialtracker"
    verbose_name = "TrialTracker"

    def ready(self):
        _make_admin_history_read_only()


def _make_admin_history_read_only():
    """The admin's "history" pages show past versions; they must never save one back.

    simple-history's history_form_view saves a POSTed form after checking only *view*
    permission, even with SIMPLE_HISTORY_REVERT_DISABLED (which merely hides the button). That
    would let a crafted request overwrite a clinical record whose admin is read-only, bypassing
    the services and their reasons. So every SimpleHistoryAdmin, present and future, answers
    anything but GET/HEAD there with 405 (tests/security/test_audit_trail.py).
    """
    from django.http import HttpResponseNotAllowed
    from simple_history.admin import SimpleHistoryAdmin

    original = SimpleHistoryAdmin.history_form_view
    if getattr(original, "read_only_guard", False):
        return

    @wraps(original)
    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return original(self, request, object_id, version_id, extra_context)

    history_form_view.read_only_guard = True
    SimpleHistoryAdmin.history_form_view = history_form_view
