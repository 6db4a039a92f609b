"""Business rules and transactions; no Flask request objects here."""
