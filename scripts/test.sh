#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest on SQLite and on PostgreSQL.
# PostgreSQL: GOVSHARE_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres); a fresh database
# is created for the run and dropped after. Set GOVSHARE_REQUIRE_POSTGRES=1 to fail when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ruff"; ruff check .
echo "== mypy"; mypy govshare

WORKERS="${GOVSHARE_TEST_WORKERS:-2}"
home=$(mktemp -d); trap 'rm -rf "$home"' EXIT
export GOVSHARE_HOME="$home"

echo "== pytest (SQLite)"
env -u DATABASE_URL python -m pytest -n "$WORKERS" "$@"

PG="${GOVSHARE_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
if python - "$PG" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable: {exc}"); sys.exit(1)
PY
then
  db="govshare_test_$$_$(date +%s)"
  base="${PG%/*}"
  python - "$PG" "$db" create <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY
  cleanup_pg() { python - "$PG" "$db" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    for suffix in ["", "_gw0", "_gw1", "_gw2", "_gw3"]:
        c.execute(f'DROP DATABASE IF EXISTS "test_{sys.argv[2]}{suffix}" WITH (FORCE)')
    c.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
PY
  rm -rf "$home"; }
  trap cleanup_pg EXIT
  echo "== pytest (PostgreSQL, database $db)"
  DATABASE_URL="$base/$db" python -m pytest -n "$WORKERS" "$@"
else
  if [ "${GOVSHARE_REQUIRE_POSTGRES:-}" = "1" ]; then echo "PostgreSQL required but not reachable"; exit 1; fi
  echo "== PostgreSQL not reachable: skipped"
fi
