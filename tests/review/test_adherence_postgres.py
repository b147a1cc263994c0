"""Monitor adherence: on PostgreSQL summed by the database (equal to the loop); the out-of-window table capped."""

from unittest import mock

from django.db import connection

from sessions.review.monitor import adherence, review_filter
from tests.review.conftest import TODAY
from tests.review.factories import populate


def test_adherence_summed_by_postgres_equals_the_python_loop(
    require_postgres, known_state, site, version, coordinator, monitor
):
    populate(site, version, 12, today=TODAY, by=coordinator, prefix="A")
    for status in ("", "in_treatment", "enrolled"):
        review = review_filter(monitor, protocol_id=str(version.protocol.pk), site_code=None, status=status)
        summed = adherence(review.participants())
        with mock.patch.object(connection, "vendor", "python-loop"):
            looped = adherence(review.participants())
        summed.dosing_gaps.sort()
        looped.dosing_gaps.sort()
        assert summed == looped
        assert summed.took_place > 0 or status == "enrolled"


def test_the_out_of_window_table_shows_fifty_rows_and_every_row_on_request():
    from datetime import date

    from sessions.review.monitor import OUT_OF_WINDOW_SHOWN, Adherence, OutOfWindow

    day = date(2026, 3, 9)
    rows = [OutOfWindow(i, i, f"S01-{i:04d}", "S01", "PREP1", "completed", day, day, day, False) for i in range(60)]
    figures = Adherence(
        participants=60, took_place=60, in_window=0, dosing_gaps=[], phases=[], open_deviations=0, out_of_window=rows
    )
    assert OUT_OF_WINDOW_SHOWN == 50
    assert figures.out_of_window_shown == rows[:50] and figures.out_of_window_hidden == 10
    figures.shown_limit = None  # ?out=all
    assert figures.out_of_window_shown == rows and figures.out_of_window_hidden == 0
