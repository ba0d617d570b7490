"""Every dashboard query: parameterized, with row-level security applied on the server."""
