"""Request middleware shared by every page."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

LAST_SEEN_KEY = "trialtracker_last_seen"


class IdleTimeoutMiddleware:
    """Sign a user out after IDLE_TIMEOUT_SECONDS without a request.

    The session cookie itself lives longer (SESSION_COOKIE_AGE), so that a stale session
    still reaches us and the login page can say why the user was signed out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY, now)
            if now - last_seen > settings.IDLE_TIMEOUT_SECONDS:
                logout(request)
                query = urlencode({"next": request.get_full_path(), "idle": "1"})
                return redirect(f"{reverse('login')}?{query}")
            request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)
