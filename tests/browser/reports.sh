#!/usr/bin/env bash
# The HTML reports in a real headless Chromium: the advisor's report (a passing and a backoff
# case against the reference device, one failing) and the load generator's report are
# rendered, screenshotted into ARTIFACTS (kept as CI artifacts), and refused when the browser
# logs a console error, a failed load or a crash.
# Usage: tests/browser/reports.sh path/to/iotmock ARTIFACTS
set -euo pipefail
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ARTIFACTS="$(mkdir -p "$2" && cd "$2" && pwd)"
WORK="$(mktemp -d -t iotmock-browser.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
BROWSER="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
POLICY="$(cd "$(dirname "$0")/../.." && pwd)/fixtures/policies/reference-device.json"
failed=0

# The advisor: one passing case, one backoff case (a chart), one the device fails.
"$BIN" advisor run TLS_Connect MQTT_Connect_Exponential_Backoff_Retries TLS_Unsecure_Server_Cert \
  --policy "$POLICY" --device-cmd "$BIN reference-device --accept-unknown-ca" \
  --report "$WORK/advisor" > "$WORK/advisor.log" 2>&1 || true
[ -f "$WORK/advisor/index.html" ] || { cat "$WORK/advisor.log"; echo "FAILED: no advisor report"; exit 1; }

# The load generator against a mock of its own.
API_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
MQTT_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$BIN" serve --api-addr "127.0.0.1:$API_PORT" --mqtt-addr "127.0.0.1:$MQTT_PORT" --state-dir "$WORK/state" \
  --port-443-addr off --https-addr off > "$WORK/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; rm -rf "$WORK" || true' EXIT
"$BIN" health --endpoint-url "http://127.0.0.1:$API_PORT" > /dev/null 2>&1 \
  || for _ in $(seq 100); do "$BIN" health --endpoint-url "http://127.0.0.1:$API_PORT" > /dev/null 2>&1 && break; sleep 0.1; done
"$BIN" load handshake --endpoint-url "http://127.0.0.1:$API_PORT" --mqtt "127.0.0.1:$MQTT_PORT" \
  --devices 4 --duration 3s --report "$WORK/load" > "$WORK/load.log" 2>&1 \
  || { cat "$WORK/load.log"; echo "FAILED: load run"; failed=1; }

check() { # NAME FILE
  local name="$1" file="$2" log="$WORK/$1.chromium.log"
  [ -f "$file" ] || { echo "FAILED: $name: $file is missing"; failed=1; return; }
  timeout 120 "$BROWSER" --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --enable-logging=stderr --v=0 --window-size=1280,2400 \
    --screenshot="$ARTIFACTS/$name.png" "file://$file" > "$log" 2>&1 || true
  if [ ! -s "$ARTIFACTS/$name.png" ]; then
    tail -n 20 "$log"; echo "FAILED: $name: no screenshot"; failed=1; return
  fi
  if grep -E 'CONSOLE\(|Uncaught|ERR_FILE_NOT_FOUND|Failed to load' "$log" | grep -v 'dbus\|gcm\|Fontconfig'; then
    echo "FAILED: $name: the browser logged errors rendering it"; failed=1; return
  fi
  echo "PASS  $name renders without console errors ($ARTIFACTS/$name.png)"
}
check advisor "$WORK/advisor/index.html"
check load "$WORK/load/report.html"
cp "$WORK/advisor/index.html" "$ARTIFACTS/advisor.html" 2>/dev/null || true
cp "$WORK/load/report.html" "$ARTIFACTS/load.html" 2>/dev/null || true
exit $failed
