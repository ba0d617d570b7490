"""The CLI as a client: run an operation in-process, or through the running server's admin API."""
