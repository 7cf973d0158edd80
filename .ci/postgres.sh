#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests, from Debian's `postgresql` package:
# its own data folder, trust authentication, loopback only (nothing else can reach it).
#
#   eval "$(.ci/postgres.sh start DIR)"   # starts it; prints the DAGSTER_PG_* exports
#   .ci/postgres.sh stop DIR
#
# Run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
command=${1:?start or stop}
dir=${2:?a folder for the cluster}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }

as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
  start)
    port=${DORA_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_server_user "$bin/initdb" -D "$dir/data" -U dagster --auth=trust -E UTF8 >"$dir/initdb.log"
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
    as_server_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U dagster dagster
    echo "export DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=$port DAGSTER_PG_USERNAME=dagster" \
         "DAGSTER_PG_PASSWORD=trust DAGSTER_PG_DB=dagster"
    ;;
  stop)
    as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
