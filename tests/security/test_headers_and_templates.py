"""Security headers, a strict Content-Security-Policy, and templates that never need inline code."""

import json
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings

from tests.trialtracker.test_settings import PRODUCTION_ENV, _manage

ROOT = Path(__file__).resolve().parents[2]


def _template_files():
    """Every template the project ships: templates/ and each project app's templates folder."""
    folders = [Path(d) for engine in django_settings.TEMPLATES for d in engine["DIRS"]]
    for config in apps.get_app_configs():
        path = Path(config.path)
        # Only the project's own apps: a virtualenv inside the checkout holds third-party templates.
        own = path.is_relative_to(ROOT) and not {".venv", "site-packages"} & set(path.parts)
        if own and (path / "templates").is_dir():
            folders.append(path / "templates")
    return sorted({f for folder in folders for f in folder.rglob("*") if f.suffix in {".html", ".svg", ".txt"}})


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*type\s*=\s*[\"']application/json)[^>]*>", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
STYLE_ATTRIBUTE = re.compile(r"[\s\"']style\s*=", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"'{]", re.I)
JAVASCRIPT_URL = re.compile(r"javascript:", re.I)


def test_template_scan_finds_the_templates():
    names = {f.name for f in _template_files()}
    assert {"base.html", "login.html", "locked_out.html"} <= names


@pytest.mark.parametrize("template", _template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_template_has_no_inline_script_style_or_handlers(template):
    text = template.read_text()
    problems = []
    for label, pattern in [
        ("inline <script> (put code in static/js/)", INLINE_SCRIPT),
        ("<style> element (put CSS in static/css/app.css)", STYLE_ELEMENT),
        ("style= attribute (use a CSS class)", STYLE_ATTRIBUTE),
        ("on*= event handler (attach listeners from static/js/)", EVENT_HANDLER),
        ("javascript: URL", JAVASCRIPT_URL),
    ]:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"line {line}: {label}: {match.group(0)!r}")
    assert not problems, "The CSP forbids inline code:\n" + "\n".join(problems)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Cross-Origin-Opener-Policy" in response


@pytest.mark.django_db
def test_csp_allows_only_our_own_scripts_and_styles(client, coordinator):
    client.force_login(coordinator)
    policy = client.get("/")["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.django_db
def test_admin_pages_also_carry_the_csp(client, admin_user):
    client.force_login(admin_user)
    assert "script-src 'self'" in client.get("/admin/")["Content-Security-Policy"]


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_http_only_where_possible(client, coordinator):
    from tests.conftest import PASSWORD

    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


PRODUCTION_VALUES = (
    "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in "
    "['DEBUG', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_SECURE', "
    "'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_HTTPONLY', 'TRUSTED_PROXY_COUNT']}))"
)


def test_production_settings_turn_on_hsts_and_secure_cookies():
    result = _manage(["shell", "-c", PRODUCTION_VALUES], {**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "1"})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["DEBUG"] is False
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SECURE_SSL_REDIRECT"]
    assert values["TRUSTED_PROXY_COUNT"] == 1


def test_check_deploy_is_clean_behind_a_proxy():
    env = {**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "2"}
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
