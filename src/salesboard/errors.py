"""Errors a user can cause. Each carries a one-line message that says what to do."""


class SalesboardError(Exception):
    """Base for every error shown to a user as a single line (never a traceback)."""

    exit_code = 1


class ConfigError(SalesboardError):
    exit_code = 2


class DatabaseLockedError(SalesboardError):
    """Another process owns the database file."""

    exit_code = 3


class ValidationError(SalesboardError):
    """Bad input: the message says which field and how to fix it."""

    exit_code = 2


class AuthError(SalesboardError):
    exit_code = 4


class PermissionDenied(SalesboardError):
    exit_code = 4


class NotFound(SalesboardError):
    exit_code = 2
