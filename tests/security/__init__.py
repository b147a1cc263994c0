"""Security suites: access, lockout, headers, audit trail, hostile input (docs/security.md)."""
