"""On PostgreSQL the monitor's adherence figures are summed by the database: they must equal the loop's."""

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
