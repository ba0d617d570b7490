"""Which pages each role gets. A page absent here cannot be opened; each view guards itself too."""

from __future__ import annotations

import importlib

import streamlit as st

from ..auth.roles import Principal
from ..store import Store

# (module under ui.views, title, url path, icon, roles allowed)
PAGES = [
    ("overview", "Overview", "overview", ":material/dashboard:", ("admin", "manager", "user")),
    ("explorer", "Sales explorer", "explorer", ":material/table:", ("admin", "manager", "user")),
    ("account", "My account", "account", ":material/person:", ("admin", "manager", "user")),
    ("users", "Users", "users", ":material/group:", ("admin",)),
]


def pages_for(principal: Principal, store: Store) -> list:
    pages = []
    for module, title, path, icon, roles in PAGES:
        if principal.role not in roles:
            continue
        view = importlib.import_module(f"salesboard.ui.views.{module}")
        pages.append(st.Page(lambda view=view: view.render(principal, store), title=title, url_path=path,
                             icon=icon, default=not pages))
    return pages
