"""Guardrails 1 and 2 (SPEC §2): no page, export or feed shows a dose amount; no model stores dose or allocation.

Every GET page of the URL walk, as every role allowed to open it, on a demo-like world, and on the
real `seed_demo` data; plus every field of every model, by name and label.
"""

import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from sessions.models import Deviation, Participant, StudySession
from tests.security.access_table import ACCESS
from tests.security.world import World
from tests.urlwalk import PUBLIC_URL_NAMES, all_urls

# "120 mg", "1.5mg", "125 milligrams", "80 µg": a number standing on its own (not inside a token such as a
# CSRF value) followed by a mass unit.
DOSE_AMOUNT = re.compile(
    r"(?<![\w.,])\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|μg|milligrams?|micrograms?)(?![a-z])", re.IGNORECASE
)
# Random tokens (CSRF values, calendar-feed URLs) can spell "-2mG"; no dose amount is 16 characters unbroken.
TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}")


def without_tokens(text: str) -> str:
    return TOKEN.sub(" ", text)


# Field names or labels that would hold dosing or treatment allocation (blinding).
FORBIDDEN_FIELD = re.compile(
    r"(^|_)(dose|doses|dosage|dose_amount|amount|mg|titration|titrate|supplemental|booster|allocation|allocated|"
    r"arm|arms|kit|kits|randomi[sz]ation|treatment_group|placebo|active_drug|unblind\w*)(_|$)",
    re.IGNORECASE,
)
FORBIDDEN_LABEL = re.compile(
    r"\b(dose amount|dosage|milligram|titration|supplemental dose|allocation|treatment arm|kit number|placebo)\b", re.I
)


def test_dose_pattern_catches_amounts_and_spares_ordinary_text():
    for text in ["120 mg", "1.5mg", "give 125 Milligrams", "0.5 mg/kg", "80 µg", "40MG"]:
        assert DOSE_AMOUNT.search(text), text
    assert not DOSE_AMOUNT.search(without_tokens("feed/Xk3-2mGq81VbZ0pLwe.ics"))
    assert DOSE_AMOUNT.search(without_tokens("take 120 mg at 10:00"))
    for text in ["img", "12 minutes", "Dosing session 1", "DOSE1", "mgmt", "20 mgmt", "csrf=x9Zq6mGv"]:
        assert not DOSE_AMOUNT.search(text), text


@pytest.mark.parametrize("model", apps.get_models(), ids=lambda m: m._meta.label)
def test_no_model_field_is_named_for_dose_or_allocation(model):
    for field in model._meta.get_fields():
        assert not FORBIDDEN_FIELD.search(field.name), f"{model._meta.label}.{field.name}"
        label = str(getattr(field, "verbose_name", "") or "")
        help_text = str(getattr(field, "help_text", "") or "")
        assert not FORBIDDEN_LABEL.search(label), f"{model._meta.label}.{field.name} label {label!r}"
        assert not DOSE_AMOUNT.search(help_text), f"{model._meta.label}.{field.name} help text {help_text!r}"


def _object_url(name, rule, obj_pk):
    return reverse(name, kwargs={rule.kwarg: obj_pk})


def _pages(world_objects):
    """(url name, url) for every GET page in the walk, filled with the given objects."""
    for walked in all_urls():
        rule = ACCESS.get(walked.name)
        if walked.name in PUBLIC_URL_NAMES or rule is None or "GET" not in rule.methods:
            continue
        if rule.target is None:
            yield walked.name, rule, reverse(walked.name)
        elif world_objects.get(rule.target) is not None:
            yield walked.name, rule, _object_url(walked.name, rule, world_objects[rule.target].pk)


def _assert_no_dose_amounts(client, users, pages):
    checked = 0
    for name, rule, url in pages:
        for role in sorted(rule.roles):
            client.force_login(users[role])
            response = client.get(url)
            assert response.status_code == 200, f"{role} {url}: {response.status_code}"
            body = b"".join(response.streaming_content) if response.streaming else response.content
            found = DOSE_AMOUNT.findall(without_tokens(body.decode("utf-8", "replace")))
            assert not found, f"{name} as {role} shows dose-like amounts {found}"
            checked += 1
    assert checked


@pytest.mark.django_db
def test_no_page_as_any_role_shows_a_dose_amount(client, world: World):
    objects = {
        "participant": world.participant,
        "booked": world.booked,
        "logged": world.logged,
        "unsigned": world.unsigned,
        "dosing": world.dosing,
        "deviation": world.deviation,
        "version": world.version,
    }
    _assert_no_dose_amounts(client, world.users, _pages(objects))


@pytest.mark.django_db
def test_calendar_feed_shows_no_dose_amount(client, world: World):
    from sessions import ical

    feed = ical.regenerate_feed(user=world.users["staff"])
    client.logout()
    response = client.get(reverse("review:calendar_feed", args=[feed.token]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "BEGIN:VCALENDAR" in body
    assert not DOSE_AMOUNT.findall(body)


@pytest.mark.django_db
def test_no_page_shows_a_dose_amount_on_the_demo_data(client):
    from django.contrib.auth import get_user_model

    from protocols.models import ProtocolVersion

    call_command("seed_demo", verbosity=0)
    user_model = get_user_model()
    users = {
        "coordinator": user_model.objects.get(username="coordinator"),
        "staff": user_model.objects.get(username="therapist"),
        "monitor": user_model.objects.get(username="monitor"),
        "admin": user_model.objects.filter(is_superuser=True).first(),
    }
    if users["admin"] is None:
        users["admin"] = user_model.objects.create_superuser("render-admin", password="x-long-password-1")
    # Sessions of the demo therapist, so that staff pages (log, sign) open for them too.
    theirs = StudySession.objects.filter(
        assignments__therapist=users["staff"], assignments__is_active=True, participant__status="in_treatment"
    )
    objects = {
        "participant": Participant.objects.filter(site__code="S01").first(),
        "booked": theirs.filter(status="scheduled").first(),
        "logged": theirs.filter(status="completed").first(),
        "unsigned": theirs.filter(status="completed", signed_at__isnull=True).first(),
        "dosing": theirs.filter(definition__phase="dosing", status="scheduled").first(),
        "deviation": Deviation.objects.filter(status="open", participant__site__code="S01").first(),
        "version": ProtocolVersion.objects.filter(definitions__phase="dosing").first()
        or ProtocolVersion.objects.first(),
    }
    assert all(objects.values()), f"demo data lacks {[k for k, v in objects.items() if not v]}"
    _assert_no_dose_amounts(client, users, _pages(objects))
