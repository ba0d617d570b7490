"""The global filter bar in the sidebar: date presets, dimensions; shared by every data page.

Choices come from analytics.options (only values the user may see); values
arriving from the URL are validated and a bad one gets a clear message.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import streamlit as st

from ..analytics.filters import PRESETS, Filters, preset_range, validate_against
from ..analytics.options import filter_options
from ..auth.roles import Principal
from ..errors import ValidationError
from ..store import Store

CUSTOM = "custom"


def today() -> date:
    return datetime.now(timezone.utc).date()


def _url_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def _initial_from_url(opts: dict) -> None:
    """Seed widget state once from ?preset=&region=&channel=&category= (shareable links)."""
    if st.session_state.get("_filters_seeded"):
        return
    st.session_state["_filters_seeded"] = True
    preset = st.query_params.get("preset")
    if preset:
        if preset in PRESETS:
            st.session_state["f_preset"] = preset
        else:
            st.session_state["_filter_warning"] = f"Unknown date preset {preset!r} in the link; showing the last 30 days."
    for key, known in (("region", opts["regions"]), ("channel", opts["channels"]), ("category", opts["categories"])):
        values = _url_list(key)
        bad = [v for v in values if v not in known]
        if bad:
            st.session_state["_filter_warning"] = (
                f"Unknown {key} {', '.join(bad[:3])} in the link; pick from the list instead.")
        st.session_state[f"f_{key}"] = [v for v in values if v in known]


def filter_bar(store: Store, principal: Principal, *, grain: str = "day") -> Filters | None:
    opts = filter_options(store, principal)
    _initial_from_url(opts)
    sb = st.sidebar
    sb.subheader("Filters")
    if warning := st.session_state.pop("_filter_warning", None):
        st.warning(warning)
    labels = {k: v[0] for k, v in PRESETS.items()} | {CUSTOM: "Custom range"}
    preset = sb.selectbox("Date range", list(labels), format_func=labels.get, index=1, key="f_preset")
    t = today()
    if preset == CUSTOM:
        default = preset_range("30d", t)
        picked = sb.date_input("From – to", value=default, max_value=t, key="f_custom")
        if not isinstance(picked, tuple) or len(picked) != 2:
            sb.info("Pick an end date.")
            return None
        start, end = picked
    else:
        start, end = preset_range(preset, t)
    sb.caption(f"{start:%d %b %Y} – {end:%d %b %Y}")
    regions = sb.multiselect("Region", opts["regions"], key="f_region")
    categories = sb.multiselect("Category", opts["categories"], key="f_category")
    products_in_scope = [p for p in opts["products"] if not categories or p["category"] in categories]
    product_names = {p["id"]: p["name"] for p in products_in_scope}
    products = sb.multiselect("Product", list(product_names), format_func=product_names.get, key="f_product")
    channels = sb.multiselect("Channel", opts["channels"], key="f_channel")
    reps: list[int] = []
    if principal.role != "user":
        rep_names = {r["id"]: r["name"] for r in opts["reps"]}
        reps = sb.multiselect("Sales rep", list(rep_names), format_func=rep_names.get, key="f_rep")
    try:
        f = Filters(start, end, tuple(regions), tuple(categories),
                    tuple(p for p in products if p in product_names), tuple(channels), tuple(reps), grain)
        validate_against(f, opts)
    except ValidationError as exc:
        st.error(str(exc))
        return None
    return f
