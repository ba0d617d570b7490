"""Salesboard: self-hosted sales analytics on DuckDB."""

__version__ = "0.1.0"
