"""Overview: KPI cards against the previous period, revenue trend, breakdowns, top lists."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ...analytics.overview import overview
from ...auth.roles import Principal
from ...store import Store
from ..components import money
from ..filter_bar import filter_bar

KPI_LABELS = [
    ("revenue", "Revenue", "money"),
    ("orders", "Orders", "int"),
    ("units", "Units", "int"),
    ("aov", "Avg order value", "money"),
    ("gross_profit", "Gross profit", "money"),
    ("customers", "Active customers", "int"),
]


def _fmt(value, kind: str, currency: str) -> str:
    if value is None:
        return "–"
    if kind == "money":
        return money(value, currency)
    return f"{int(value):,}"


def render(principal: Principal, store: Store) -> None:
    st.title("Overview")
    grain = st.segmented_control("Trend by", ["day", "week", "month"], default="day", key="grain") or "day"
    f = filter_bar(store, principal, grain=grain)
    if f is None:
        return
    data = overview(store, principal, f)
    currency = store.settings.base_currency
    cols = st.columns(3) + st.columns(3)
    for col, (key, label, kind) in zip(cols, KPI_LABELS):
        kpi = data["kpis"][key]
        delta = None if kpi.change is None else f"{kpi.change:+.1%}"
        col.metric(label, _fmt(kpi.value, kind, currency), delta,
                   help=f"Previous period: {_fmt(kpi.previous, kind, currency)}")
    if data["kpis"]["gross_profit"].value is not None and data["meta"]["cost_coverage"] < 0.999:
        st.caption(f"Gross profit counts the {data['meta']['cost_coverage']:.0%} of revenue whose cost is known.")
    if data["kpis"]["orders"].value == 0:
        st.info("No completed sales match these filters in this period.")
        return

    st.subheader(f"Revenue by {grain} vs previous period")
    trend = data["trend"].rename(columns={"revenue": "This period", "previous_revenue": "Previous period"})
    st.line_chart(trend, x="period", y=["This period", "Previous period"], y_label=currency,
                  color=["#2563eb", "#94a3b8"])  # in the order of y: this period strong, previous muted

    left, right = st.columns(2)
    with left:
        st.subheader("By category")
        st.bar_chart(data["by_category"], x="category", y="revenue", horizontal=True, sort="-revenue")
        cats = data["by_category"]["category"].tolist()
        drill = st.selectbox("Drill into a category", ["(all)"] + cats, key="drill_category")
        products = data["by_product"]
        if drill != "(all)":
            products = products[products["category"] == drill]
        st.dataframe(products, hide_index=True, width="stretch",
                     column_config={"revenue": st.column_config.NumberColumn(format="%.2f")})
    with right:
        st.subheader("By region")
        st.bar_chart(data["by_region"], x="region", y="revenue", horizontal=True, sort="-revenue")
        st.subheader("By channel")
        st.bar_chart(data["by_channel"], x="channel", y="revenue", horizontal=True, sort="-revenue")
    left, right = st.columns(2)
    with left:
        st.subheader("By sales rep")
        st.bar_chart(data["by_rep"], x="rep", y="revenue", horizontal=True, sort="-revenue")
    with right:
        st.subheader("Top customers")
        st.dataframe(data["top_customers"][["customer", "orders", "revenue"]], hide_index=True, width="stretch",
                     column_config={"revenue": st.column_config.NumberColumn(format="%.2f")})
    st.subheader("Top products")
    st.dataframe(pd.DataFrame(data["top_products"]), hide_index=True, width="stretch",
                 column_config={"revenue": st.column_config.NumberColumn(format="%.2f")})
