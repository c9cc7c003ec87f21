"""Chat models that write answers (the verifier checks every sentence they write)."""
