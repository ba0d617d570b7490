"""Sales explorer: paginated sale lines with sort, search and CSV export (audited)."""

from __future__ import annotations

import math

import streamlit as st

from ...analytics import explorer
from ...analytics.filters import Filters
from ...auth.roles import Principal
from ...errors import ValidationError
from ...store import Store
from ..filter_bar import filter_bar


def render(principal: Principal, store: Store) -> None:
    st.title("Sales explorer")
    f = filter_bar(store, principal)
    if f is None:
        return
    c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
    search = c1.text_input("Search order, customer or product", max_chars=explorer.MAX_SEARCH, key="x_search")
    sort = c2.selectbox("Sort by", list(explorer.COLUMNS), key="x_sort")
    descending = c3.toggle("Descending", value=True, key="x_desc")
    page_size = c4.selectbox("Rows", explorer.PAGE_SIZES, index=1, key="x_size")
    page_no = st.session_state.get("x_page", 1)
    try:
        df, total = explorer.page(store, principal, f, search=search or None, sort=sort, descending=descending,
                                  page_no=page_no, page_size=page_size)
    except ValidationError as exc:
        st.error(str(exc))
        return
    pages = max(1, math.ceil(total / page_size))
    if page_no > pages:
        st.session_state["x_page"] = 1
        st.rerun()
    st.caption(f"{total:,} sale lines · page {page_no} of {pages}")
    st.dataframe(df, hide_index=True, width="stretch")
    nav = st.columns([1, 1, 6])
    if nav[0].button("◀ Previous", disabled=page_no <= 1, key="x_prev"):
        st.session_state["x_page"] = page_no - 1
        st.rerun()
    if nav[1].button("Next ▶", disabled=page_no >= pages, key="x_next"):
        st.session_state["x_page"] = page_no + 1
        st.rerun()
    st.divider()
    _export(store, principal, f, search or None, sort, descending, total)


def _export(store: Store, principal: Principal, f: Filters, search: str | None, sort: str, descending: bool,
            total: int) -> None:
    """Prepare a CSV of the query shown; it is offered only while that query is still the one on screen."""
    query = (principal.username, f, search, sort, descending)
    prepared = st.session_state.get("x_csv")
    if prepared and prepared["query"] != query:
        del st.session_state["x_csv"]  # filters, search or sort changed: that file no longer matches the table
        prepared = None
    if st.button(f"Prepare CSV export ({total:,} rows)", key="x_export", disabled=total == 0):
        try:
            data, rows = explorer.export_csv(store, principal, f, search=search, sort=sort, descending=descending)
        except ValidationError as exc:
            st.error(str(exc))
        else:
            prepared = st.session_state["x_csv"] = {"query": query, "data": data, "rows": rows}
    if prepared:
        st.success(f"Export of {prepared['rows']:,} rows is ready.")
        st.download_button("Download CSV", prepared["data"], file_name="sales_export.csv",
                           mime="text/csv", key="x_download")
