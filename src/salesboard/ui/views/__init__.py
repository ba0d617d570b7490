"""One module per page; each exposes render(principal, store)."""
