"""Domain services: each function takes a session and plain values, enforces one rule set,
writes the audit record and returns a result or raises a ``DomainError``. The caller commits."""
