"""User administration as remote-capable operations (`salesboard users ...`)."""

from __future__ import annotations

from ..remote.operations import operation
from . import accounts


@operation("users.list")
def users_list(store, actor, progress):
    return {"users": [u.as_dict() for u in accounts.list_users(store)]}


@operation("users.add")
def users_add(store, actor, progress, username, password, role="user", display_name=None, email=None,
              team=None, region=None):
    user = accounts.add_user(store, actor, username, password, role, display_name=display_name, email=email,
                             team=team, region=region)
    return {"user": user.as_dict()}


@operation("users.set-role")
def users_set_role(store, actor, progress, username, role):
    return {"user": accounts.set_role(store, actor, username, role).as_dict()}


@operation("users.set-active")
def users_set_active(store, actor, progress, username, active):
    return {"user": accounts.set_active(store, actor, username, bool(active)).as_dict()}


@operation("users.reset-password")
def users_reset_password(store, actor, progress, username, password=None):
    user, password = accounts.reset_password(store, actor, username, password)
    return {"user": user.as_dict(), "password": password}
