"""Ingest: extract, map, validate, enrich and load sales data (docs/imports.md)."""
