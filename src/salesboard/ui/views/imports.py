"""Imports page (managers and admins): upload a file, pick or detect a mapping, preview, import, see the summary."""

from __future__ import annotations

import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from ...auth import audit
from ...errors import SalesboardError
from ...ingest import mapping as mappings
from ...ingest import pipeline, runs

DETECT = "(detect from the columns)"
TYPES = ["csv", "tsv", "txt", "gz", "zip", "xlsx", "parquet", "json", "ndjson", "jsonl"]


def upload_cap_mb(limit_mb: int) -> int:
    """Streamlit's own cap (server.maxUploadSize), set by `salesboard serve` from SALESBOARD_MAX_UPLOAD_MB.

    Twice our limit: a file somewhat too big still reaches our check, which says what to do and audits
    it. Past the cap the browser refuses the file before sending it (nothing reaches the server).
    """
    return max(1, 2 * limit_mb)


def _audit_upload(store, principal, upload, why: str | None = None, mapping: str | None = None) -> None:
    """Audit an upload as accepted (why None) or rejected with the mapping tried.

    Once per file, or per file and mapping while it is refused: every click reruns this page.
    """
    seen = st.session_state.setdefault("import_audited", set())
    key = (upload.file_id, "accepted" if why is None else mapping)
    if (upload.file_id, "accepted") in seen or key in seen:
        return
    seen.add(key)
    with store.write() as cur:
        audit.record(cur, "import.upload", actor=principal.username, target=upload.name, success=why is None,
                     detail={"bytes": upload.size, **({"rejected": why} if why else {})})


@contextmanager
def _saved(upload):
    """The upload as a file for this script run only: removed afterwards whatever happens."""
    name = Path(upload.name).name  # the browser's name, kept: its extension helps the format detection
    with tempfile.TemporaryDirectory(prefix="salesboard-upload-") as folder:
        path = Path(folder) / (name if name not in ("", "..") else "upload")
        path.write_bytes(upload.getvalue())
        yield path


def _preview_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["errors"] = frame.pop("reasons").map(lambda r: "; ".join(r))
    cols = ["errors", "source_key", "sold_at", "sku", "product_name", "quantity", "unit_price", "net_amount",
            "currency", "net_amount_base", "region", "customer_name"]
    return frame[[c for c in cols if c in frame.columns]]


def _highlight(frame: pd.DataFrame):
    return frame.style.apply(lambda row: ["background-color: #ffd6d6" if row["errors"] else "" for _ in row], axis=1)


def _run_with_progress(store, principal, path: Path, mapping: str | None, dry_run: bool) -> dict:
    """Import in a worker thread while this script thread draws the progress bar."""
    state: dict = {}

    def work():
        try:
            state["result"] = pipeline.run_file(store, principal, str(path), mapping=mapping, dry_run=dry_run,
                                                progress=lambda e: state.__setitem__("event", e))
        except Exception as exc:  # noqa: BLE001 - shown to the user below
            state["error"] = exc

    bar = st.progress(0.0, text="Starting...")
    worker = threading.Thread(target=work, name="ui-import", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            ev = state.get("event") or {}
            frac = (ev["done"] / ev["total"]) if ev.get("total") and ev.get("done") is not None else 0.0
            rate = f" - {ev['rate']:,.0f} rows/s" if ev.get("rate") else ""
            bar.progress(min(frac, 1.0), text=f"{ev.get('stage', 'reading').capitalize()}{rate}")
            time.sleep(0.2)
    finally:
        worker.join()  # even when the user leaves the page: the file is removed only after the run ends
    bar.progress(1.0, text="Done")
    if "error" in state:
        raise state["error"]
    return state["result"]


def _show_summary(s: dict) -> None:
    text = (f"Run {s['run_id']}: read {s['rows_read']:,}, loaded {s['loaded']:,} (inserted {s['inserted']:,}, "
            f"updated {s['updated']:,}, unchanged {s['unchanged']:,}), quarantined {s['quarantined']:,}.")
    (st.warning if s["quarantined"] else st.success)(text)
    if warning := pipeline.products_warning(s):
        st.warning(f"Warning: {warning}.")
    c = st.columns(4)
    c[0].metric("Rows read", f"{s['rows_read']:,}")
    c[1].metric("Loaded", f"{s['loaded']:,}")
    c[2].metric("Quarantined", f"{s['quarantined']:,}")
    c[3].metric("Seconds", f"{s['duration_s']:.2f}")
    if s["quarantined"] and not s["dry_run"]:
        st.info("See the reasons, download, replay or discard the rows on the Quarantine page.")


def render(principal, store) -> None:
    st.title("Imports")
    if not principal.can_manage:
        st.error("Imports are for managers and administrators.")
        return
    limit_mb = store.settings.max_upload_mb
    st.caption(f"CSV/TSV (also .gz/.zip), Excel .xlsx, Parquet, JSON/NDJSON; up to {limit_mb} MB. "
               "Every row is loaded or quarantined with its reasons.")
    upload = st.file_uploader("Sales file", type=TYPES, key="import_file")
    if upload is None:
        return
    if upload.size > limit_mb * 1024 * 1024:
        _audit_upload(store, principal, upload, f"larger than {limit_mb} MB")
        st.error(f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {limit_mb} MB "
                 "(SALESBOARD_MAX_UPLOAD_MB). Split the file or import it with `salesboard import`.")
        return
    choice = st.selectbox("Mapping", [DETECT, *mappings.builtin_names()], key="import_mapping")
    with _saved(upload) as path:
        _preview_and_import(store, principal, upload, path, None if choice == DETECT else choice)


def _in_words(exc: Exception, path: Path, upload) -> str:
    """The error with the upload's name in place of its temporary path (gone once this run ends)."""
    return str(exc).replace(str(path), upload.name)


def _preview_and_import(store, principal, upload, path: Path, mapping: str | None) -> None:
    try:
        preview = runs.preview(store, str(path), mapping=mapping, limit=20)
    except SalesboardError as exc:
        # A file no reader or mapping accepts is refused: the audit entry says why, the file is gone.
        why = _in_words(exc, path, upload)
        _audit_upload(store, principal, upload, why, mapping)
        st.error(why)
        return
    _audit_upload(store, principal, upload)
    st.write(f"Mapping **{preview['mapping']}**, {preview['rows_in_file']:,} rows "
             f"({preview['file']['format']}, {preview['file']['encoding'] or 'binary'}). "
             f"{preview['errors']} of the first {len(preview['rows'])} rows have errors.")
    if preview["rows"]:
        st.dataframe(_highlight(_preview_frame(preview["rows"])), hide_index=True)
    dry_run = st.checkbox("Dry run (validate only, write nothing)", key="import_dry_run")
    if st.button("Import", type="primary", key="import_go"):
        try:
            summary = _run_with_progress(store, principal, path, preview["mapping"], dry_run)
        except SalesboardError as exc:
            st.error(_in_words(exc, path, upload))
            return
        _show_summary(summary)
