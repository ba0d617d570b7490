"""Roles and the row-level scope each one gets in analytics queries."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "manager", "user")


@dataclass(frozen=True)
class Principal:
    """Who is asking. Built only from a verified session or a trusted local process."""

    user_id: int
    username: str
    role: str
    team: str | None = None
    region: str | None = None
    display_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_manage(self) -> bool:
        return self.role in ("admin", "manager")

    def row_filter(self) -> tuple[str, list]:
        """SQL predicate over a table with `rep_id` and `region`, and its bound parameters.

        admin: everything. manager: reps of their team and/or sales in their
        region (all sales when unscoped). user: only their own sales.
        """
        if self.role == "admin":
            return "TRUE", []
        if self.role == "manager":
            parts, params = [], []
            if self.team:
                parts.append("rep_id IN (SELECT id FROM users WHERE team = ?)")
                params.append(self.team)
            if self.region:
                parts.append("region = ?")
                params.append(self.region)
            return ("(" + " OR ".join(parts) + ")", params) if parts else ("TRUE", [])
        return "rep_id = ?", [self.user_id]


# The CLI on the database owner's machine acts with full rights; it is audited as this actor.
LOCAL_ADMIN = Principal(user_id=0, username="cli", role="admin")
