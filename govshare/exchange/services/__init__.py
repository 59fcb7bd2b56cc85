"""Writes of the exchange: applications (applications.py), grants and suspensions (grants.py), the
inference guard (guards.py), stage deadlines (deadlines.py)."""
