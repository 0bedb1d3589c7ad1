#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the distributed-search tests.
#
# Idempotent: a server this script started and that still runs is reused. Run as root (the
# cluster is owned by the `postgres` user) or as an unprivileged user (owned by that user).
# Installs the Debian `postgresql` package when no server binaries are found (root only).
#
# Writes the connection URL to $RESNET_NAS_PG_ENV (default $RESNET_NAS_PG_DIR/env.sh), to be
# sourced by the caller, and prints it:
#   export RESNET_NAS_TEST_POSTGRES_URL=postgresql://resnet_nas:resnet_nas@127.0.0.1:55432/resnet_nas
#
# Stop and delete it:  .ci/postgres.sh stop
#
# Settings (environment): RESNET_NAS_PG_DIR (default /tmp/resnet_nas_pg), RESNET_NAS_PG_PORT
# (first port tried, default 55432), RESNET_NAS_PG_ENV.
set -euo pipefail

BASE=${RESNET_NAS_PG_DIR:-/tmp/resnet_nas_pg}
FIRST_PORT=${RESNET_NAS_PG_PORT:-55432}
ENV_FILE=${RESNET_NAS_PG_ENV:-$BASE/env.sh}
DB=resnet_nas
DB_USER=resnet_nas
DB_PASS=resnet_nas
DATA=$BASE/data

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return; fi
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(command -v pg_ctl)"; return
  fi
  echo ""
}

BIN=$(find_bin)
if [[ "${1:-}" == "stop" ]]; then
  if [[ -n "$BIN" && -f "$DATA/postmaster.pid" ]]; then
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -m fast -w stop || true
    else "$BIN/pg_ctl" -D "$DATA" -m fast -w stop || true; fi
  fi
  rm -rf "$BASE"
  log "stopped and removed $BASE"
  exit 0
fi

if [[ -z "$BIN" ]]; then
  if [[ $(id -u) != 0 ]]; then
    log "no PostgreSQL server binaries and not root: install the 'postgresql' package"; exit 1
  fi
  log "installing the postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # the package's own cluster is not used; policy-rc.d keeps it from starting where supported
  apt-get install -y -qq postgresql >/dev/null
  BIN=$(find_bin)
  [[ -n "$BIN" ]] || { log "postgresql installed but initdb/pg_ctl not found"; exit 1; }
fi

if [[ $(id -u) == 0 ]]; then
  OWNER=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  OWNER=$(id -un)
  as_owner() { "$@"; }
fi

port_free() {  # true when nothing listens on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mkdir -p "$BASE"
chown "$OWNER" "$BASE"
chmod 700 "$BASE"

if [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  PORT=$(cat "$BASE/port")
  log "reusing the running server in $DATA on port $PORT"
else
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"
    # superuser = the cluster owner over the unix socket (peer/trust); TCP needs a password
    as_owner "$BIN/initdb" -D "$DATA" -U "$OWNER" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 \
      || as_owner "$BIN/initdb" -D "$DATA" -U "$OWNER" --auth-local=trust \
           --auth-host=scram-sha-256 -E UTF8 --locale=C >"$BASE/initdb.log" 2>&1
  fi
  PORT=$FIRST_PORT
  while ! port_free "$PORT"; do
    PORT=$((PORT + 1))
    if (( PORT > FIRST_PORT + 100 )); then log "no free port from $FIRST_PORT"; exit 1; fi
  done
  echo "$PORT" >"$BASE/port"
  rm -f "$DATA/postmaster.pid"  # left by a killed server of an earlier run
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c max_connections=200 -c fsync=off" \
    start >/dev/null
  log "started PostgreSQL ($("$BIN/postgres" --version)) in $DATA on 127.0.0.1:$PORT"
fi

psql_owner() { as_owner "$BIN/psql" -h "$BASE" -p "$PORT" -U "$OWNER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [[ -z $(psql_owner -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'") ]]; then
  psql_owner -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASS'"
fi
if [[ -z $(psql_owner -c "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
  psql_owner -c "CREATE DATABASE $DB OWNER $DB_USER"
fi

URL="postgresql://$DB_USER:$DB_PASS@127.0.0.1:$PORT/$DB"
mkdir -p "$(dirname "$ENV_FILE")"
echo "export RESNET_NAS_TEST_POSTGRES_URL=$URL" >"$ENV_FILE"
chmod 644 "$ENV_FILE"
echo "export RESNET_NAS_TEST_POSTGRES_URL=$URL"
