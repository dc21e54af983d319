#!/usr/bin/env bash
# MQTT over WebSocket handshakes side by side with mutual-TLS ones, on one freshly started mock
# per round, interleaved: `iotmock load handshake` and `iotmock load publish` (the same client
# for both doors) run
#   mtls       TLS with a client certificate (P-256) + CONNECT on the MQTT port
#   wss        TLS + the signed WebSocket upgrade at /mqtt + CONNECT on the port-443 listener
#   mtls-qos1  QoS 1, 64 B, 1 publisher -> 1 subscriber over mutual TLS (COUNT messages)
#   wss-qos1   the same over WebSocket
# and the mock's CPU time is read from /proc around each run, giving connections (or
# deliveries) per broker CPU-second. With WS_BROKER=host:port (another broker's TLS websockets listener at /mqtt,
# e.g. a mosquitto built with websockets) and WS_CAFILE, it is measured the same way
# (WS_PID: its process id, for its CPU time).
# Prints one JSON line per run into WORKDIR/wss.jsonl.
# Usage: docs/bench/wss.sh WORKDIR [ROUNDS=3]   (after cargo build --release)
# env: DUR (seconds per handshake run, default 10), CONC (concurrency, default 8), COUNT
#      (QoS 1 messages per publish run, default 100000)
set -euo pipefail
W=$(mkdir -p "${1:?WORKDIR}" && cd "$1" && pwd); ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$ROOT/target/release/iotmock"
DUR=${DUR:-10}; CONC=${CONC:-8}; COUNT=${COUNT:-100000}
OUT="$W/wss.jsonl"
# shellcheck source=per_cpu.bash
source "$(dirname "$0")/per_cpu.bash"

for round in $(seq "$ROUNDS"); do
  state=$(mktemp -d); api_port=$(free_port); mqtt_port=$(free_port); p443=$(free_port)
  api="http://127.0.0.1:$api_port"
  "$BIN" serve --api-addr "127.0.0.1:$api_port" --mqtt-addr "127.0.0.1:$mqtt_port" \
    --port-443-addr "127.0.0.1:$p443" --https-addr off --state-dir "$state" > "$state/log" 2>&1 &
  pid=$!
  curl -sf --retry 50 --retry-delay 0 --retry-connrefused "$api/iotmock/AmazonRootCA1.pem" -o "$state/ca.pem"
  hs=(handshake -c "$CONC" --duration "${DUR}s")
  pub=(publish -P 1 -S 1 -q 1 --size 64 --count "$COUNT" --duration 60s)
  measure mtls "$round" "$pid" "${hs[@]}" --api "$api" --mqtt "127.0.0.1:$mqtt_port" --devices 8 --key-type ec
  measure wss "$round" "$pid" "${hs[@]}" --api "$api" --mqtt "127.0.0.1:$p443" --transport wss
  measure mtls-qos1 "$round" "$pid" "${pub[@]}" --api "$api" --mqtt "127.0.0.1:$mqtt_port" --devices 2
  measure wss-qos1 "$round" "$pid" "${pub[@]}" --api "$api" --mqtt "127.0.0.1:$p443" --transport wss
  if [ -n "${WS_BROKER:-}" ]; then
    measure other-wss "$round" "${WS_PID:?WS_PID}" "${hs[@]}" --mqtt "$WS_BROKER" --cafile "${WS_CAFILE:?WS_CAFILE}" --transport wss
    measure other-wss-qos1 "$round" "$WS_PID" "${pub[@]}" --mqtt "$WS_BROKER" --cafile "$WS_CAFILE" --transport wss
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$state"
done
