#!/usr/bin/env bash
# CONNECTs through a custom authorizer side by side with mutual-TLS ones, on one freshly
# started mock per round, interleaved: `iotmock load handshake` runs
#   mtls             TLS with a client certificate (P-256) + CONNECT on the MQTT port
#   custom-unsigned  TLS (ALPN mqtt) + CONNECT with a username and password on the port-443
#                    listener; the authorizer's function (a webhook that answers at once) decides
#   custom-signed    the same with a token signed by a 2048-bit RSA key in the username
# and the mock's CPU time is read from /proc around each run, giving connections per broker
# CPU-second (the webhook's own CPU is not the broker's, its round trip is).
# Prints one JSON line per run into WORKDIR/custom_auth.jsonl.
# Usage: docs/bench/custom_auth.sh WORKDIR [ROUNDS=3]   (after cargo build --release)
# env: DUR (seconds per run, default 10), CONC (concurrency, default 8)
set -euo pipefail
W=$(mkdir -p "${1:?WORKDIR}" && cd "$1" && pwd); ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN="$ROOT/target/release/iotmock"
DUR=${DUR:-10}; CONC=${CONC:-8}
OUT="$W/custom_auth.jsonl"
# shellcheck source=per_cpu.bash
source "$(dirname "$0")/per_cpu.bash"

hook_port=$(free_port)
python3 - "$hook_port" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]})
ANSWER = json.dumps({"isAuthenticated": True, "principalId": "bench", "policyDocuments": [POLICY],
                     "refreshAfterInSeconds": 3600, "disconnectAfterInSeconds": 86400}).encode()
class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
hook=$!
trap 'kill $hook 2>/dev/null' EXIT
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null; openssl rsa -in "$W/key.pem" -pubout -out "$W/pub.pem" 2>/dev/null
SIG=$(printf allow | openssl dgst -sha256 -sign "$W/key.pem" | openssl base64 -A | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip(), safe=""))')


for round in $(seq "$ROUNDS"); do
  state=$(mktemp -d); api_port=$(free_port); mqtt_port=$(free_port); p443=$(free_port)
  api="http://127.0.0.1:$api_port"
  "$BIN" serve --api-addr "127.0.0.1:$api_port" --mqtt-addr "127.0.0.1:$mqtt_port" \
    --port-443-addr "127.0.0.1:$p443" --https-addr off --state-dir "$state" \
    --lambda-url "http://127.0.0.1:$hook_port" > "$state/log" 2>&1 &
  pid=$!
  curl -sf --retry 50 --retry-delay 0 --retry-connrefused "$api/iotmock/AmazonRootCA1.pem" -o "$state/ca.pem"
  fn="arn:aws:lambda:us-east-1:123456789012:function:bench-auth"
  curl -sf -X POST "$api/authorizer/Unsigned" -d "{\"authorizerFunctionArn\":\"$fn\",\"signingDisabled\":true}" > /dev/null
  keys=$(python3 -c 'import json,sys; print(json.dumps({"k1": open(sys.argv[1]).read()}))' "$W/pub.pem")
  curl -sf -X POST "$api/authorizer/Signed" -d "{\"authorizerFunctionArn\":\"$fn\",\"tokenKeyName\":\"tok\",\"tokenSigningPublicKeys\":$keys}" > /dev/null
  hs=(handshake -c "$CONC" --duration "${DUR}s")
  measure mtls "$round" "$pid" "${hs[@]}" --api "$api" --mqtt "127.0.0.1:$mqtt_port" --devices 8 --key-type ec
  measure custom-unsigned "$round" "$pid" "${hs[@]}" --api "$api" --mqtt "127.0.0.1:$p443" --auth custom \
    --auth-username "load?x-amz-customauthorizer-name=Unsigned" --auth-password allow
  measure custom-signed "$round" "$pid" "${hs[@]}" --api "$api" --mqtt "127.0.0.1:$p443" --auth custom \
    --auth-username "load?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature=$SIG&tok=allow"
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$state"
done
