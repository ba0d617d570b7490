"""Sources: each one stages its rows as a DuckDB table for the pipeline."""
