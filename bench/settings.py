"""The app's own settings plus the benchmark's URLs (the floor views, and an admin when needed)."""

from trialtracker.settings import *  # noqa: F403
from trialtracker.settings import BASE_DIR, TEMPLATES

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
