#!/usr/bin/env bash
# The console in a real headless Chromium: starts a mock of its own (console on, the default),
# then tests/browser/console_test.py drives Debian's chromium through chromium-driver
# (Selenium) and real devices (paho-mqtt, mosquitto_pub) against it. Screenshots of every page
# go to ARTIFACTS.
# Usage: tests/browser/console.sh path/to/iotmock ARTIFACTS PYTHON
#   PYTHON: a python with selenium, boto3 and paho-mqtt
set -euo pipefail
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ARTIFACTS="$(mkdir -p "$2" && cd "$2" && pwd)"
PYTHON="${3:-python3}"
WORK="$(mktemp -d -t iotmock-console.XXXXXX)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT="$(free_port)"; MQTT_PORT="$(free_port)"
"$BIN" serve --api-addr "127.0.0.1:$API_PORT" --mqtt-addr "127.0.0.1:$MQTT_PORT" --state-dir "$WORK/state" \
  --port-443-addr off --https-addr off > "$WORK/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; rm -rf "$WORK" || true' EXIT
curl -sf --retry 50 --retry-delay 0 --retry-connrefused --max-time 30 \
  "http://127.0.0.1:$API_PORT/iotmock/health" -o /dev/null || { cat "$WORK/mock.log"; exit 1; }
# A load report in the state dir's reports/ folder, for the Reports page.
"$BIN" load handshake --endpoint-url "http://127.0.0.1:$API_PORT" --mqtt "127.0.0.1:$MQTT_PORT" \
  --devices 2 --duration 1s --report "$WORK/state/reports/load" > "$WORK/load.log" 2>&1 \
  || { cat "$WORK/load.log"; exit 1; }
CHROMIUM="$(command -v chromium || command -v chromium-browser)" \
CHROMEDRIVER="$(command -v chromedriver)" \
  timeout 300 "$PYTHON" "$(dirname "$0")/console_test.py" "http://127.0.0.1:$API_PORT" "$MQTT_PORT" "$ARTIFACTS" \
  || { tail -n 30 "$WORK/mock.log"; exit 1; }
