#!/usr/bin/env bash
# A private PostgreSQL server for the tests: `tests/postgres.sh start DIR`
# initialises a cluster in DIR (once), starts it on a free loopback port
# (unless it runs already) and prints its URL; `tests/postgres.sh stop DIR`
# stops it. Installs the distribution's `postgresql` package when its
# binaries are missing. The server runs as the `postgres` system user
# (initdb refuses root), listens on 127.0.0.1 only, trusts local
# connections and keeps fsync on (tests measure what production does).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
action=$1
dir=$2

find_bin() {
    local candidate
    for candidate in /usr/lib/postgresql/*/bin; do
        if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ]; then
            echo "$candidate"
            return 0
        fi
    done
    local pg_ctl
    if pg_ctl=$(command -v pg_ctl) && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$pg_ctl")"
        return 0
    fi
    return 1
}

if ! bin=$(find_bin); then
    echo "postgres.sh: installing the postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin=$(find_bin) || {
        echo "postgres.sh: pg_ctl/initdb still missing after installing postgresql" >&2
        exit 1
    }
fi

# Runs a command as the cluster's owner: the package's `postgres` user
# when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"

case "$action" in
stop)
    if [ -f "$data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
    fi
    exit 0
    ;;
start) ;;
*) usage ;;
esac

if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
fi

if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
fi

port_file="$dir/port"
running() {
    [ -f "$port_file" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# Whether 127.0.0.1:$1 is free to listen on (as the server binds it:
# connections of its last run still in TIME_WAIT do not count).
port_free() {
    python3 -c 'import socket,sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

if ! running; then
    # The port it had, if free (a restarted server keeps its URL), else a
    # free one: ask the kernel for one, then hand it to the server.
    port=$(cat "$port_file" 2>/dev/null || true)
    if [ -z "$port" ] || ! port_free "$port"; then
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
            shuf -i 20000-60000 -n 1)
    fi
    echo "$port" >"$port_file"
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir \
            -c fsync=on -c max_connections=300 -c shared_buffers=128MB" >&2 || {
        tail -n 30 "$dir/server.log" >&2
        exit 1
    }
fi
port=$(cat "$port_file")

if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'wasmhook'" | grep -q 1; then
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc \
        "CREATE DATABASE wasmhook" >&2
fi

echo "postgres://postgres@127.0.0.1:$port/wasmhook"
