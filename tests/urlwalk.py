"""Every URL pattern of the project, with placeholder arguments, so suites cover new URLs automatically."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# URLs anyone may open without signing in.
PUBLIC_URL_NAMES = {
    "login",
    "healthz",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "review:calendar_feed",  # authenticated by its secret token, not a session
}

PLACEHOLDERS = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000000", "path": "x"}
ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?\w+>")


@dataclass(frozen=True)
class WalkedUrl:
    name: str
    url: str


def _fill(route: str) -> str:
    return ROUTE_PARAMETER.sub(lambda m: PLACEHOLDERS.get(m.group(1) or "str", "1"), route)


def walk(resolver=None, prefix="", namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = str(entry.pattern)
        if route.startswith("^"):
            continue  # regex patterns only occur inside the admin, which has its own login
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # Django admin: staff-only with its own login; tested separately
            inner_namespace = ":".join(filter(None, [namespace, entry.namespace]))
            yield from walk(entry, prefix + _fill(route), inner_namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield WalkedUrl(name=name, url="/" + prefix + _fill(route))


def all_urls() -> list[WalkedUrl]:
    return list(walk())
