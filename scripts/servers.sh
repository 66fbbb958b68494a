#!/usr/bin/env bash
# Starts the servers the sinks write to, on loopback, each with its own data directory under
# DIR (default .servers/): ClickHouse (Debian's 18.16), NATS with JetStream, Redis.
#
#   bash scripts/servers.sh start [DIR]   start them (ports below), print the settings to use
#   bash scripts/servers.sh stop  [DIR]   stop them (SIGTERM), keep their data
#   bash scripts/servers.sh status [DIR]
#
# Ports: MPF_CLICKHOUSE_TCP_PORT (19000), MPF_CLICKHOUSE_HTTP_PORT (18123), MPF_NATS_PORT
# (14222), MPF_NATS_MONITOR_PORT (18222), MPF_REDIS_PORT (16379). The tests use them when
# told to: export the MPF_* URLs this prints (tests/servers.py); otherwise they start their own.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION=${1:-start}
DIR=$(realpath -m "${2:-.servers}")
CH_TCP=${MPF_CLICKHOUSE_TCP_PORT:-19000}
CH_HTTP=${MPF_CLICKHOUSE_HTTP_PORT:-18123}
CH_INTER=${MPF_CLICKHOUSE_INTERSERVER_PORT:-19009}
NATS_PORT=${MPF_NATS_PORT:-14222}
NATS_MON=${MPF_NATS_MONITOR_PORT:-18222}
REDIS_PORT=${MPF_REDIS_PORT:-16379}

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || { echo "servers: $1 not found: run scripts/setup.sh" >&2; exit 2; }; }

running() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

wait_ready() {  # name, command that succeeds once the server answers
    local name=$1; shift
    for _ in $(seq 1 300); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        running "$name" || { echo "servers: $name exited; see $DIR/$name/console.log" >&2; tail -5 "$DIR/$name/console.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "servers: $name did not answer within 30 s; see $DIR/$name/console.log" >&2
    exit 1
}

start_clickhouse() {
    need clickhouse-server
    running clickhouse && return
    local root=$DIR/clickhouse
    mkdir -p "$root/log" "$root/data" "$root/tmp" "$root/user_files"
    cat > "$root/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$root/log/server.log</log><errorlog>$root/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP</http_port>
    <tcp_port>$CH_TCP</tcp_port>
    <interserver_http_port>$CH_INTER</interserver_http_port>
    <path>$root/data/</path>
    <tmp_path>$root/tmp/</tmp_path>
    <user_files_path>$root/user_files/</user_files_path>
    <users_config>$root/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
    cat > "$root/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
    <profiles><default><allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
XML
    (cd "$root" && nohup /usr/sbin/clickhouse-server --config-file="$root/config.xml" >"$root/console.log" 2>&1 & echo $! > "$DIR/clickhouse.pid")
    wait_ready clickhouse curl -sf "http://127.0.0.1:$CH_HTTP/ping"
}

start_nats() {
    need nats-server
    running nats && return
    local root=$DIR/nats
    mkdir -p "$root/store"
    (nohup nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -js -sd "$root/store" >"$root/console.log" 2>&1 & echo $! > "$DIR/nats.pid")
    wait_ready nats curl -sf "http://127.0.0.1:$NATS_MON/healthz"
}

start_redis() {
    need redis-server
    running redis && return
    local root=$DIR/redis
    mkdir -p "$root"
    (nohup redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$root" >"$root/console.log" 2>&1 & echo $! > "$DIR/redis.pid")
    wait_ready redis bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG"
}

stop_one() {
    if running "$1"; then
        local pid; pid=$(cat "$DIR/$1.pid")
        kill "$pid"
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "servers: $1 stopped"
    fi
    rm -f "$DIR/$1.pid"
}

case "$ACTION" in
    start)
        mkdir -p "$DIR"
        start_clickhouse; start_nats; start_redis
        cat <<EOF2
servers: running (data in $DIR). Sink settings and test variables:
  sinks.clickhouse.url: clickhouse://127.0.0.1:$CH_TCP
  sinks.nats.url:       nats://127.0.0.1:$NATS_PORT
  sinks.redis.url:      redis://127.0.0.1:$REDIS_PORT/0
export MPF_CLICKHOUSE_HTTP=http://127.0.0.1:$CH_HTTP MPF_CLICKHOUSE_TCP_PORT=$CH_TCP MPF_NATS_URL=nats://127.0.0.1:$NATS_PORT MPF_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
EOF2
        ;;
    stop) for s in redis nats clickhouse; do stop_one "$s"; done ;;
    status) for s in clickhouse nats redis; do if running "$s"; then echo "$s: running"; else echo "$s: stopped"; fi; done ;;
    *) echo "usage: scripts/servers.sh start|stop|status [DIR]" >&2; exit 2 ;;
esac
