#!/usr/bin/env bash
# Starts the whole system in the foreground: the local broker, the simulator and the API, with
# their logs interleaved and prefixed. Ctrl-C (or SIGTERM) stops all three, API first, so that
# captures in flight are answered before the simulator and broker go away.
#
# Each component runs in a session of its own, so that Ctrl-C in the terminal reaches only this
# script, which then stops them in that order (a Ctrl-C that reached all three at once would stop
# the broker under the others, and they would warn about it on their way out).
#
# Environment: DEMOSYNC_BIN (the demosync binary), DEMOSYNC_TANSU (the broker), and optionally
# DEMOSYNC_BROKER_PORT (9092), DEMOSYNC_HTTP_PORT (8080), DEMOSYNC_SIMULATOR_HEALTH_PORT (8081),
# PROCESSING_DELAY_MS (2000).
set -euo pipefail

BIN="${DEMOSYNC_BIN:?DEMOSYNC_BIN must point at the demosync binary}"
TANSU="${DEMOSYNC_TANSU:?DEMOSYNC_TANSU must point at the broker (run make deps)}"
BROKER_PORT="${DEMOSYNC_BROKER_PORT:-9092}"
HTTP_PORT="${DEMOSYNC_HTTP_PORT:-8080}"
SIMULATOR_HEALTH_PORT="${DEMOSYNC_SIMULATOR_HEALTH_PORT:-8081}"
export DEMOSYNC_SIMULATOR_HEALTH_PORT="$SIMULATOR_HEALTH_PORT"
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
    setsid "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
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
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

if port_open "$BROKER_PORT"; then
    echo "[run] port $BROKER_PORT is already in use; set DEMOSYNC_BROKER_PORT to another port" >&2
    exit 1
fi
if port_open "$HTTP_PORT"; then
    echo "[run] port $HTTP_PORT is already in use; set DEMOSYNC_HTTP_PORT to another port" >&2
    exit 1
fi
if port_open "$SIMULATOR_HEALTH_PORT"; then
    echo "[run] port $SIMULATOR_HEALTH_PORT is already in use; set DEMOSYNC_SIMULATOR_HEALTH_PORT to another port" >&2
    exit 1
fi

prefixed broker "$TANSU" broker --listener-url "$BROKER_URL" --advertised-listener-url "$BROKER_URL"
for _ in $(seq 1 200); do port_open "$BROKER_PORT" && break; sleep 0.05; done
port_open "$BROKER_PORT" || { echo "[run] the broker did not start" >&2; exit 1; }

prefixed simulator "$BIN" simulate
prefixed api "$BIN" serve

# Ready means both: the API (topics, consumers, what Kafka already holds) and the simulator (its
# group has given it partitions and its verdict journal is loaded), so that the first capture
# waits only for the processing delay.
ready() {
    curl -fsS "http://127.0.0.1:$HTTP_PORT/health/ready" >/dev/null 2>&1 &&
        curl -fsS "http://127.0.0.1:$SIMULATOR_HEALTH_PORT/health/ready" >/dev/null 2>&1
}
for _ in $(seq 1 600); do
    if ready; then
        echo "[run] ready on http://127.0.0.1:$HTTP_PORT — in another terminal:"
        echo "[run]   $BIN capture --amount 100.50"
        break
    fi
    sleep 0.1
done
ready || echo "[run] not ready after 60 s; see the logs above" >&2

# Stay in the foreground until one of the three exits or Ctrl-C.
wait -n "${pids[@]}" || true
echo "[run] a component exited; stopping the others"
