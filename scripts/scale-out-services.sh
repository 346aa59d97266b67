#!/usr/bin/env bash
# The shared services of the scaled-out mode, for CI's second pass and a look by hand: Debian's
# redis-server and PostgreSQL, each started detached with its output in a file, then waited for.
# Prints the settings that point Baeum at them (eval its output).
#
#   eval "$(bash scripts/scale-out-services.sh)"
set -euo pipefail
REDIS_PORT=${BAEUM_REDIS_PORT:-6390}
PG_PORT=${BAEUM_PG_PORT:-5433}
PG_DATA=${BAEUM_PG_DATA:-/tmp/baeum-pg}
LOGS=${BAEUM_SERVICE_LOGS:-/tmp}

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$LOGS/baeum-redis.log" 2>&1 </dev/null &
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || { cat "$LOGS/baeum-redis.log" >&2; exit 1; }
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  # PostgreSQL refuses to run as root: its own cluster, owned by the postgres user.
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA" && chown postgres:postgres "$PG_DATA"
    su postgres -s /bin/sh -c "'$PG_BIN/initdb' -D '$PG_DATA' -A trust -U postgres -E UTF8" \
      >"$LOGS/baeum-initdb.log" 2>&1
  fi
  su postgres -s /bin/sh -c "setsid '$PG_BIN/postgres' -D '$PG_DATA' -p $PG_PORT \
    -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off \
    >'$LOGS/baeum-postgres.log' 2>&1 </dev/null &"
  for _ in $(seq 1 100); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { cat "$LOGS/baeum-postgres.log" >&2; exit 1; }
fi
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -tc "SELECT 1 FROM pg_roles WHERE rolname='baeum'" \
  | grep -q 1 || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres \
  -c "CREATE ROLE baeum LOGIN CREATEDB PASSWORD 'baeum'" >/dev/null
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='baeum'" \
  | grep -q 1 || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE baeum OWNER baeum" >/dev/null

echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
echo "export DATABASE_URL=postgres://baeum:baeum@127.0.0.1:$PG_PORT/baeum"
