"""Security helpers shared by settings and admin: the client address behind proxies."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The address lockout counts: the client's, not the load balancer's.

    With TRUSTED_PROXY_COUNT = n, each of our n proxies appended the address it saw to
    X-Forwarded-For, so the client is the n-th entry from the right. Entries further left were
    written by the client and can be forged, so they are never used. With no proxies configured,
    or a request that did not pass through all of them, REMOTE_ADDR is the only address trusted.
    """
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR")
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
