"""Authentication, sessions, roles with row-level scopes, and the audit log."""
