"""Ingest operations, run by the CLI locally or inside the owner process (remote/operations.py)."""

from __future__ import annotations

from ..errors import PermissionDenied
from ..remote.operations import operation
from . import mapping as mappings
from . import pipeline, quarantine, runs
from .enrichment import fx, regions


def _manager(actor) -> None:
    if not actor.can_manage:
        raise PermissionDenied("imports need the manager or admin role")


@operation("ingest.import")
def import_file(store, actor, progress, path, mapping=None, source=None, encoding=None, delimiter=None, format=None,
                dry_run=False):
    _manager(actor)
    return pipeline.run_file(store, actor, path, mapping=mapping, source=source, encoding=encoding,
                             delimiter=delimiter, fmt=format, dry_run=bool(dry_run), progress=progress)


@operation("ingest.mappings.check")
def mappings_check(store, actor, progress, path, mapping=None, encoding=None, delimiter=None, format=None, limit=20):
    _manager(actor)
    return runs.preview(store, path, mapping=mapping, encoding=encoding, delimiter=delimiter, fmt=format,
                        limit=int(limit))


@operation("ingest.quarantine.list")
def quarantine_list(store, actor, progress, run_id=None, status="open", limit=100, offset=0):
    _manager(actor)
    return quarantine.list_rows(store, run_id=run_id, status=status, limit=int(limit), offset=int(offset))


@operation("ingest.quarantine.show")
def quarantine_show(store, actor, progress, id):
    _manager(actor)
    return quarantine.show(store, int(id))


@operation("ingest.quarantine.export")
def quarantine_export(store, actor, progress, run_id):
    _manager(actor)
    data, rows = quarantine.export_csv(store, run_id)
    return {"csv": data.decode("utf-8"), "rows": rows}


@operation("ingest.quarantine.replay")
def quarantine_replay(store, actor, progress, ids=None, run_id=None, all=False, mapping=None):
    _manager(actor)
    return pipeline.replay(store, actor, ids=ids, run_id=run_id, every=bool(all), mapping=mapping, progress=progress)


@operation("ingest.quarantine.discard")
def quarantine_discard(store, actor, progress, ids=None, run_id=None, all=False):
    _manager(actor)
    return quarantine.discard(store, actor, ids=ids, run_id=run_id, every=bool(all))


@operation("ingest.fx.import")
def fx_import(store, actor, progress, path, base=None):
    _manager(actor)
    return fx.import_rates(store, actor, path, base=base)


@operation("ingest.regions.list")
def regions_list(store, actor, progress):
    return {"rules": regions.list_rules(store)}


@operation("ingest.regions.import")
def regions_import(store, actor, progress, path):
    _manager(actor)
    return regions.import_rules(store, actor, path)


@operation("ingest.runs.list")
def runs_list(store, actor, progress, limit=50, source=None):
    _manager(actor)
    return {"runs": runs.list_runs(store, limit=int(limit), source=source)}


@operation("ingest.mappings.list")
def mappings_list(store, actor, progress):
    return {"mappings": [{"name": n, "description": mappings.load(n).description} for n in mappings.builtin_names()]}
