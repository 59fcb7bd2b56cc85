"""Writes of the quality app: rules (``rules``), quality runs (``runs``), disputes (``disputes``) and the
dispute deadline sweep (``sweep``). Every function takes keyword-only arguments and an explicit ``actor``
and writes its audit event in the same transaction."""
