#!/usr/bin/env bash
# Starts the whole system in the foreground: the local broker, the simulator and the API, with
# their logs interleaved and prefixed. Ctrl-C (or SIGTERM) stops all three, API first, so that
# captures in flight are answered before the simulator and broker go away.
#
# Environment: DEMOSYNC_BIN (the demosync binary), DEMOSYNC_TANSU (the broker), and optionally
# DEMOSYNC_BROKER_PORT (9092), DEMOSYNC_HTTP_PORT (8080), PROCESSING_DELAY_MS (2000).
set -euo pipefail

BIN="${DEMOSYNC_BIN:?DEMOSYNC_BIN must point at the demosync binary}"
TANSU="${DEMOSYNC_TANSU:?DEMOSYNC_TANSU must point at the broker (run make deps)}"
BROKER_PORT="${DEMOSYNC_BROKER_PORT:-9092}"
HTTP_PORT="${DEMOSYNC_HTTP_PORT:-8080}"
BROKER_URL="tcp://127.0.0.1:$BROKER_PORT"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$BROKER_PORT"
export DEMOSYNC_HTTP_PORT="$HTTP_PORT"
# The local broker needs the local profile (its fetch waits and group timeouts); the commands
# default to the standard one, for Apache Kafka.
export DEMOSYNC_KAFKA_PROFILE="${DEMOSYNC_KAFKA_PROFILE:-local}"

pids=()
prefixed() { # prefixed NAME COMMAND...: runs COMMAND with its output prefixed by [NAME]
    local name="$1"
    shift
    "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    pids+=("$!")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_all() {
    trap - INT TERM EXIT
    echo "[run] stopping: api, simulator, broker"
    for index in 2 1 0; do
        local pid="${pids[$index]:-}"
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    echo "[run] stopped"
}
trap stop_all INT TERM EXIT

if port_open "$BROKER_PORT"; then
    echo "[run] port $BROKER_PORT is already in use; set DEMOSYNC_BROKER_PORT to another port" >&2
    exit 1
fi
if port_open "$HTTP_PORT"; then
    echo "[run] port $HTTP_PORT is already in use; set DEMOSYNC_HTTP_PORT to another port" >&2
    exit 1
fi

prefixed broker "$TANSU" broker --listener-url "$BROKER_URL" --advertised-listener-url "$BROKER_URL"
for _ in $(seq 1 200); do port_open "$BROKER_PORT" && break; sleep 0.05; done
port_open "$BROKER_PORT" || { echo "[run] the broker did not start" >&2; exit 1; }

prefixed simulator "$BIN" simulate
prefixed api "$BIN" serve

for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null 2>&1; then
        echo "[run] ready on http://127.0.0.1:$HTTP_PORT — in another terminal:"
        echo "[run]   $BIN capture --amount 100.50"
        break
    fi
    sleep 0.1
done

# Stay in the foreground until one of the three exits or Ctrl-C.
wait -n "${pids[@]}" || true
echo "[run] a component exited; stopping the others"
