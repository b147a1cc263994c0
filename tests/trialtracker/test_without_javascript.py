"""With JavaScript off the pages must still work: the phone menu cannot rely on Bootstrap's collapse."""

from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_phone_navigation_is_shown_when_javascript_is_off(client, coordinator):
    client.force_login(coordinator)
    page = client.get("/").content.decode()
    head = page[: page.index("</head>")]
    assert '<noscript><link rel="stylesheet" href="/static/css/nojs.css"></noscript>' in head
    css = (Path(settings.BASE_DIR) / "static" / "css" / "nojs.css").read_text()
    assert ".navbar-collapse.collapse { display: block !important; }" in css
    assert ".navbar-toggler { display: none; }" in css
