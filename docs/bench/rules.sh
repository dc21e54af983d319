#!/usr/bin/env bash
# Rules side by side, interleaved per round, each mode on a freshly started mock:
#   none   QoS 0, 1 publisher -> 1 subscriber, no rules
#   rules  the same with 100 rules whose FROM does not match and 10 republish rules that do
#   slow   the same with 1 rule whose http action posts to an endpoint answering after 1 s
# Prints one JSON line per run (mode, round, rate, p50/p99 latency) into WORKDIR/rules.jsonl.
# Usage: docs/bench/rules.sh WORKDIR [ROUNDS=3]   (after cargo build --release)
# env: MODES (default "none rules slow"), COUNT (messages per run, default 200000), RATE (publishes per second for the latency
#      runs, default 20000)
set -euo pipefail
W=$(mkdir -p "${1:?WORKDIR}" && cd "$1" && pwd); ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$ROOT/target/release/iotmock"
COUNT=${COUNT:-200000}; RATE=${RATE:-20000}
OUT="$W/rules.jsonl"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# a local endpoint that answers every POST after one second
SLOW_PORT=$(free_port)
python3 - "$SLOW_PORT" > "$W/slow.log" 2>&1 <<'EOF' &
import sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class Slow(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        time.sleep(1)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Slow).serve_forever()
EOF
SLOW_PID=$!
trap 'kill $SLOW_PID 2>/dev/null || true' EXIT

rule() { # API NAME PAYLOAD
  curl -sf -X POST "$1/rules/$2" -H 'content-type: application/json' -d "$3" > /dev/null; }

run() { # MODE ROUND
  local state api_port mqtt_port api pid
  state=$(mktemp -d); api_port=$(free_port); mqtt_port=$(free_port); api="http://127.0.0.1:$api_port"
  "$BIN" serve --auto-confirm-destinations --api-addr "127.0.0.1:$api_port" --mqtt-addr "127.0.0.1:$mqtt_port" \
    --state-dir "$state" --queue-bytes 1073741824 > "$state/log" 2>&1 &
  pid=$!
  curl -sf --retry 50 --retry-delay 0 --retry-connrefused "$api/iotmock/AmazonRootCA1.pem" -o /dev/null
  case "$1" in
    rules)
      for i in $(seq 100); do rule "$api" "miss_$i" "{\"sql\":\"SELECT * FROM 'other/$i/+'\",\"actions\":[]}"; done
      for i in $(seq 10); do
        rule "$api" "hit_$i" "{\"sql\":\"SELECT * FROM 'load/+/t'\",\"actions\":[{\"republish\":{\"topic\":\"sink/$i\",\"roleArn\":\"r\"}}]}"
      done ;;
    slow)
      rule "$api" slow "{\"sql\":\"SELECT * FROM 'load/+/t'\",\"actions\":[{\"http\":{\"url\":\"http://127.0.0.1:$SLOW_PORT/hook\"}}]}" ;;
  esac
  local args=(--api "$api" --mqtt "127.0.0.1:$mqtt_port" --devices 2 -P 1 -S 1 -q 0 --size 64 --json)
  local rate_json lat_json
  rate_json=$("$BIN" load publish "${args[@]}" --count "$COUNT" --duration 60s)
  lat_json=$("$BIN" load publish "${args[@]}" --count $((RATE * 5)) --rate "$RATE" --duration 60s)
  python3 - "$1" "$2" "$rate_json" "$lat_json" >> "$OUT" <<'EOF'
import json, sys
mode, rnd, rate, lat = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
print(json.dumps({"mode": mode, "round": rnd, "per_second": rate["per_second"], "ok": rate["ok"],
                  "p50_ms_at_rate": lat["latency_ms"]["p50"], "p99_ms_at_rate": lat["latency_ms"]["p99"],
                  "ok_at_rate": lat["ok"]}))
EOF
  tail -n 1 "$OUT"
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$state"
}

for r in $(seq "$ROUNDS"); do
  for mode in ${MODES:-none rules slow}; do run "$mode" "$r"; done
done
