"""Refuses: simple-history's clean_duplicate_history would delete audit-trail rows, which is never allowed."""

from trialtracker.management.audit_guard import RefuseHistoryDeletion


class Command(RefuseHistoryDeletion):
    pass
