"""Links to the daily pages, reversed by name so rows are one click from their action."""

from django.urls import NoReverseMatch, reverse


def link(name: str, *args) -> str:
    """The URL of a named page, or "" while that page is not part of the app yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""
