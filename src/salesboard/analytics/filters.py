"""Dashboard filters: date presets, validation against known values, and the SQL they become.

Every value reaches SQL as a bound parameter; column names come from this
module only. Row-level security (Principal.row_filter) is always ANDed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from ..auth.roles import Principal
from ..errors import ValidationError

GRAINS = ("day", "week", "month")
MAX_SPAN_DAYS = 3660
MAX_VALUES = 200


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _prev_month_end(d: date) -> date:
    return _month_start(d) - timedelta(days=1)


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


# name -> (label, function(today) -> (start, end)), end inclusive
PRESETS = {
    "7d": ("Last 7 days", lambda t: (t - timedelta(days=6), t)),
    "30d": ("Last 30 days", lambda t: (t - timedelta(days=29), t)),
    "90d": ("Last 90 days", lambda t: (t - timedelta(days=89), t)),
    "this_month": ("This month", lambda t: (_month_start(t), t)),
    "last_month": ("Last month", lambda t: (_month_start(_prev_month_end(t)), _prev_month_end(t))),
    "this_quarter": ("This quarter", lambda t: (_quarter_start(t), t)),
    "ytd": ("Year to date", lambda t: (date(t.year, 1, 1), t)),
}


def preset_range(name: str, today: date) -> tuple[date, date]:
    try:
        return PRESETS[name][1](today)
    except KeyError:
        raise ValidationError(f"Unknown date preset {name!r}; use one of: {', '.join(PRESETS)} or a custom range.") from None


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    regions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    product_ids: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()
    rep_ids: tuple[int, ...] = ()
    grain: str = "day"

    def __post_init__(self):
        if self.end < self.start:
            raise ValidationError("The end date is before the start date; pick an end on or after the start.")
        if (self.end - self.start).days > MAX_SPAN_DAYS:
            raise ValidationError(f"Date range too long: at most {MAX_SPAN_DAYS} days.")
        if self.grain not in GRAINS:
            raise ValidationError(f"Unknown grain {self.grain!r}; use day, week or month.")
        for name in ("regions", "categories", "product_ids", "channels", "rep_ids"):
            if len(getattr(self, name)) > MAX_VALUES:
                raise ValidationError(f"Too many {name.replace('_', ' ')} selected: at most {MAX_VALUES}.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Filters":
        """The period of the same length just before this one."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def key(self) -> tuple:
        return (self.start, self.end, self.regions, self.categories, self.product_ids, self.channels,
                self.rep_ids, self.grain)


# filter field -> (column, SQL list type): each becomes `list_contains(?::TYPE[], column)`
_LIST_FILTERS = (
    ("regions", "region", "VARCHAR"),
    ("channels", "channel", "VARCHAR"),
    ("product_ids", "product_id", "INTEGER"),
    ("rep_ids", "rep_id", "INTEGER"),
)


def dimension_sql(f: Filters, principal: Principal) -> tuple[str, list]:
    """Predicate over the dimension columns shared by `sales` and `sales_daily` (no dates)."""
    rls, params = principal.row_filter()
    parts = [rls]
    for name, column, sql_type in _LIST_FILTERS:
        if values := getattr(f, name):
            parts.append(f"list_contains(?::{sql_type}[], {column})")
            params.append(list(values))
    if f.categories:
        parts.append("product_id IN (SELECT id FROM products WHERE list_contains(?::VARCHAR[], category))")
        params.append(list(f.categories))
    return " AND ".join(parts), params


def validate_against(f: Filters, options: dict) -> None:
    """Reject values that do not exist, saying which (options from analytics.options)."""
    checks = [
        ("region", f.regions, options["regions"]),
        ("category", f.categories, options["categories"]),
        ("channel", f.channels, options["channels"]),
        ("product", f.product_ids, [p["id"] for p in options["products"]]),
        ("sales rep", f.rep_ids, [r["id"] for r in options["reps"]]),
    ]
    for label, chosen, known in checks:
        unknown = [v for v in chosen if v not in set(known)]
        if unknown:
            shown = ", ".join(map(str, unknown[:5]))
            raise ValidationError(f"Unknown {label} {shown}; pick from the list shown in the filter.")
