"""Review test data built straight through the ORM: participants with projected sessions, bookings, logs."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocols.schedule import project
from sessions.models import Assignment, Deviation, Participant, StudySession
from tests.protocols.factories import make_version


def active_version(code="TT-REVIEW"):
    return make_version(code=code, status="active")


def enroll(site, version, study_code, enrollment: date, *, by=None, status="in_treatment") -> Participant:
    participant = Participant.objects.create(
        study_code=study_code,
        site=site,
        protocol=version.protocol,
        protocol_version=version,
        enrollment_date=enrollment,
        status=status,
        enrolled_by=by,
    )
    definitions = list(version.definitions.select_related("anchor"))
    projections = project([d.as_planned() for d in definitions], enrollment, ZoneInfo(site.time_zone))
    StudySession.objects.bulk_create(
        StudySession(
            participant=participant,
            definition=d,
            target_date=projections[d.code].target,
            window_opens=projections[d.code].earliest,
            window_closes=projections[d.code].latest,
        )
        for d in definitions
    )
    return participant


def session_of(participant, code) -> StudySession:
    return participant.sessions.select_related("definition", "participant__site").get(definition__code=code)


def book(session, day: date, at: time, *, room, therapists, status="scheduled") -> StudySession:
    zone = ZoneInfo(session.participant.site.time_zone)
    start = datetime.combine(day, at, tzinfo=zone)
    end = start + timedelta(minutes=session.definition.duration_minutes)
    session.scheduled_start, session.scheduled_end = start, end
    session.room_busy_until = end + timedelta(hours=session.definition.room_hold_hours)
    session.room = room
    session.status = status
    if status == "completed":
        session.actual_start, session.actual_end = start, end
        session.outcome = "completed"
        session.notes = "SECRET-NOTE: participant felt well"
    session._change_reason = "test booking"
    session.save()
    for therapist in therapists:
        Assignment.objects.create(session=session, therapist=therapist, starts_at=start, ends_at=end)
    return session


def deviate(participant, *, by, session=None, category="out_of_window", status="open", when=None) -> Deviation:
    return Deviation.objects.create(
        participant=participant,
        session=session,
        category=category,
        description="Booked outside the window: room availability",
        reported_by=by,
        reported_at=when or datetime(2026, 3, 1, 12, tzinfo=ZoneInfo("UTC")),
        status=status,
    )


def populate(site, version, n: int, *, today: date, room=None, therapist=None, by=None, prefix="P"):
    """n participants in the same pattern: PREP1 done, PREP2 booked late (overdue), PREP3 to schedule,
    one open deviation each. The first eight get a room and a therapist on distinct days."""
    participants = []
    for i in range(n):
        p = enroll(site, version, f"{site.code}-{prefix}{i:04d}", today - timedelta(days=40 + i % 30), by=by)
        prep1 = session_of(p, "PREP1")
        book(prep1, prep1.target_date, time(10), room=None, therapists=[], status="completed")
        prep2 = session_of(p, "PREP2")
        near = i < 8
        book(
            prep2,
            today + timedelta(days=i % 8),
            time(10),
            room=room if near else None,
            therapists=[therapist] if near and therapist else [],
        )
        deviate(p, by=by or therapist, session=prep2)
        participants.append(p)
    return participants


def demo_like_state(*, site, other_site, version, coordinator, therapists, today: date):
    """Ten participants at every stage at `site` (and two at `other_site`), relative to `today`.

    Past sessions carry no room or therapist, so no booking clash can arise on PostgreSQL;
    the upcoming ones are on distinct days and rooms.
    """
    from sessions.models import Room

    rooms = {room.name: room for room in Room.objects.filter(site=site)}
    room = rooms.get("Therapy room 1") or next(iter(rooms.values()))
    suite = rooms.get("Overnight suite A") or room
    t1, t2 = therapists[0], therapists[1 % len(therapists)]

    def done(p, *codes, late=None):
        for code in codes:
            s = session_of(p, code)
            day = s.target_date
            if code == late:
                day = s.window_closes + timedelta(days=4)
            book(s, day, time(10), room=None, therapists=[], status="completed")

    made = {}
    code = f"{site.code}-00"
    made["new"] = enroll(site, version, code + "01", today - timedelta(days=3), by=coordinator, status="enrolled")
    p = made["prep1_today"] = enroll(site, version, code + "02", today - timedelta(days=16), by=coordinator)
    book(session_of(p, "PREP1"), today, time(10), room=room, therapists=[t1])
    p = made["prep2_soon"] = enroll(site, version, code + "03", today - timedelta(days=30), by=coordinator)
    done(p, "PREP1")
    book(session_of(p, "PREP2"), today + timedelta(days=1), time(14), room=room, therapists=[t2])
    p = made["dose_soon"] = enroll(site, version, code + "04", today - timedelta(days=55), by=coordinator)
    done(p, "PREP1", "PREP2", "PREP3")
    book(session_of(p, "DOSE1"), today + timedelta(days=2), time(9), room=suite, therapists=[t1, t2])
    p = made["between"] = enroll(site, version, code + "05", today - timedelta(days=75), by=coordinator)
    done(p, "PREP1", "PREP2", "PREP3", "DOSE1", "INT1")
    p = made["late"] = enroll(site, version, code + "06", today - timedelta(days=120), by=coordinator)
    done(p, "PREP1", "PREP2", "PREP3", "DOSE1", "INT1", late="PREP2")
    deviate(
        p,
        by=coordinator,
        session=session_of(p, "PREP2"),
        when=datetime.combine(today - timedelta(days=60), time(12), tzinfo=ZoneInfo("UTC")),
    )
    done(p, "DOSE2", "INT2")
    p = made["completed"] = enroll(site, version, code + "07", today - timedelta(days=170), by=coordinator)
    done(p, "PREP1", "PREP2", "PREP3", "DOSE1", "INT1", "DOSE2", "INT2", "DOSE3", "INT3")
    Participant.objects.filter(pk=p.pk).update(status="completed")
    p = made["withdrawn"] = enroll(site, version, code + "08", today - timedelta(days=80), by=coordinator)
    done(p, "PREP1", "PREP2")
    p.sessions.filter(status="unscheduled").update(status="cancelled", cancel_reason="Participant withdrew")
    Participant.objects.filter(pk=p.pk).update(
        status="withdrawn", withdrawn_on=today - timedelta(days=40), withdrawal_reason="Moved away"
    )
    p = made["missed"] = enroll(site, version, code + "09", today - timedelta(days=38), by=coordinator)
    done(p, "PREP1")
    missed = session_of(p, "PREP2")
    book(missed, missed.target_date, time(11), room=None, therapists=[], status="missed")
    deviate(
        p,
        by=coordinator,
        session=missed,
        category="missed",
        when=datetime.combine(missed.target_date, time(18), tzinfo=ZoneInfo("UTC")),
    )
    p = made["overdue"] = enroll(site, version, code + "10", today - timedelta(days=45), by=coordinator)
    done(p, "PREP1")
    if other_site is not None:
        q = enroll(other_site, version, f"{other_site.code}-0001", today - timedelta(days=30), by=coordinator)
        done(q, "PREP1")
        made["other"] = q
    return made
