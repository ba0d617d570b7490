"""Sales explorer: paginated sale lines with sort, search and CSV export (audited)."""

from __future__ import annotations

import math

import streamlit as st

from ...analytics import explorer
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
    if st.button(f"Prepare CSV export ({total:,} rows)", key="x_export", disabled=total == 0):
        try:
            data, rows = explorer.export_csv(store, principal, f, search=search or None)
        except ValidationError as exc:
            st.error(str(exc))
        else:
            st.session_state["x_csv"] = data
            st.success(f"Export of {rows:,} rows is ready.")
    if st.session_state.get("x_csv"):
        st.download_button("Download CSV", st.session_state["x_csv"], file_name="sales_export.csv",
                           mime="text/csv", key="x_download")
