#!/usr/bin/env bash
# One interleaved run of ../shared/bench's reduced matrix: per round mosquitto, then iotmock
# OLD, then iotmock NEW, each started fresh on its own state-less defaults, so a change is
# judged against the build before it and against mosquitto in the same minutes.
# Usage: OLD=path/to/old/iotmock NEW=path/to/new/iotmock docs/bench/ab.sh WORKDIR [ROUNDS=3]
# env: IOTMOCK_SHARED (the shared folder, default ../shared), DUR CONCS COUNT FANOUT_COUNT
#      IDLE_N as run_matrix.sh; ONLY="pubsub fanout" runs just those suites every round;
#      MOSQUITTO=0 leaves mosquitto out (a quick before/after of iotmock alone).
#      The harness's publisher bursts far faster than its subscribers read (and than AWS's
#      512 KB/s per connection), so iotmock runs with IOTMOCK_QUEUE_BYTES (default here 1 GiB)
#      to take the whole burst as mosquitto does, instead of discarding past --queue-bytes. Labels: mosquitto-ec, iotmock-old-ec, iotmock-ec (the new one,
#      as goals.py reads it). Writes WORKDIR/side.jsonl and prints the summary and the goals.
set -euo pipefail
W=$(mkdir -p "${1:?WORKDIR}" && cd "$1" && pwd); ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${IOTMOCK_SHARED:-$ROOT/../shared}/bench
OLD=$(readlink -f "${OLD:?OLD binary}"); NEW=$(readlink -f "${NEW:?NEW binary}")
export DUR=${DUR:-4} CONCS=${CONCS:-8} TLSVERS=${TLSVERS:-"1.2 1.3"} COUNT=${COUNT:-100000}
export FANOUT_COUNT=${FANOUT_COUNT:-30000} IDLE_N=${IDLE_N:-500} TIMEOUT=${TIMEOUT:-60} REPS=1
MOSQ_PORT=${MOSQ_PORT:-19883}; OUT="$W/side.jsonl"
export IOTMOCK_QUEUE_BYTES=${IOTMOCK_QUEUE_BYTES:-1073741824}
cd "$W"
[ -d certs ] || bash "$B/gen_certs.sh" certs >/dev/null

iotmock_round() { # BINARY LABEL
  local state; state=$(mktemp -d)
  "$1" serve --api-addr 127.0.0.1:4580 --mqtt-addr 127.0.0.1:8883 --state-dir "$state" \
    > "$state/log" 2>&1 &
  local pid=$!
  curl -sf --retry 50 --retry-delay 0 --retry-connrefused http://127.0.0.1:4580/iotmock/AmazonRootCA1.pem -o /dev/null
  rm -rf "iot-$2"; bash "$B/iotmock_certs.sh" "iot-$2" ec >/dev/null
  CERTDIR="iot-$2" PORT=8883 BROKER_PID=$pid LABEL="$2" OUT="$OUT" bash "$B/run_matrix.sh"
  kill "$pid"; wait "$pid" || true; rm -rf "$state"
}

for r in $(seq "$ROUNDS"); do
  if [ "$r" = 1 ]; then SUITES="mqtt pubsub fanout idle"; else SUITES="mqtt pubsub fanout"; fi
  SUITES=${ONLY:-$SUITES}
  export SUITES
  if [ "${MOSQUITTO:-1}" != 0 ]; then
    EXTRA_CONF="set_tcp_nodelay true" bash "$B/mosquitto_run.sh" start certs/ec "$MOSQ_PORT" tlsv1.2 "$W/mosq" >/dev/null
    sleep 0.5
    CERTDIR=certs/ec PORT="$MOSQ_PORT" LABEL=mosquitto-ec OUT="$OUT" bash "$B/run_matrix.sh"
    bash "$B/mosquitto_run.sh" stop "$W/mosq"
  fi
  iotmock_round "$OLD" iotmock-old-ec
  iotmock_round "$NEW" iotmock-ec
done
python3 "$B/summarize.py" "$OUT"
python3 "$B/goals.py" "$OUT" || true
