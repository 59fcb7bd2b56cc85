"""Writes of the licences app (house rule 2: keyword-only, explicit actor, atomic, audited in the same
transaction). Split by subject: types, keys, issue/revoke, verify, lookup, service items, library, expiry."""
