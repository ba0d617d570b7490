"""Which pages each role gets. A page absent here cannot be opened; each view guards itself too."""

from __future__ import annotations

import importlib

import streamlit as st

from ..auth.roles import Principal
from ..store import Store

EVERYONE = ("admin", "manager", "user")
MANAGERS = ("admin", "manager")
ADMINS = ("admin",)

# section -> [(module under ui.views, title, url path, icon, roles allowed)]
PAGES = {
    "Dashboard": [
        ("overview", "Overview", "overview", ":material/dashboard:", EVERYONE),
        ("explorer", "Sales explorer", "explorer", ":material/table:", EVERYONE),
    ],
    "Data": [
        ("imports", "Imports", "imports", ":material/upload_file:", MANAGERS),
        ("runs", "Run history", "runs", ":material/history:", MANAGERS),
        ("quarantine", "Quarantine", "quarantine", ":material/report:", MANAGERS),
    ],
    "Admin": [
        ("users", "Users", "users", ":material/group:", ADMINS),
        ("jobs", "Jobs", "jobs", ":material/schedule:", ADMINS),
        ("backups", "Backups", "backups", ":material/backup:", ADMINS),
        ("audit", "Audit log", "audit", ":material/policy:", ADMINS),
    ],
    "Account": [
        ("account", "My account", "account", ":material/person:", EVERYONE),
    ],
}


def pages_for(principal: Principal, store: Store) -> dict[str, list]:
    sections: dict[str, list] = {}
    first = True
    for section, entries in PAGES.items():
        for module, title, path, icon, roles in entries:
            if principal.role not in roles:
                continue
            view = importlib.import_module(f"salesboard.ui.views.{module}")
            sections.setdefault(section, []).append(
                st.Page(lambda view=view: view.render(principal, store), title=title, url_path=path, icon=icon,
                        default=first))
            first = False
    return sections
