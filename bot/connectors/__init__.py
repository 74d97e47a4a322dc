"""Company data Claude may query from its sandbox: declared read-only SQL sources (issue 16)."""
