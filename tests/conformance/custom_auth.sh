#!/usr/bin/env bash
# custom_auth.sh -- custom authorizers, driven only by third-party clients against a mock of
# its own (IOTMOCK_BIN) whose --lambda-url is a webhook function written here
# (custom_auth_hook.py): the aws CLI for the control plane and TestInvokeAuthorizer (a token
# signed with openssl), the AWS IoT Device SDK v2 for Python (direct_with_custom_authorizer,
# signed and unsigned), mosquitto_pub/mosquitto_sub with --tls-alpn mqtt and a username query
# string, and curl for HTTPS publish with the authorizer's headers.
#
# Usage:  custom_auth.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]   (the mock given is not used)
# Needs: IOTMOCK_BIN, aws, jq, curl, openssl, mosquitto_pub, mosquitto_sub, python3, timeout.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl openssl mosquitto_pub mosquitto_sub python3 timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
HERE="$(cd "$(dirname "$0")" && pwd)"
BIN="${IOTMOCK_BIN:-$(command -v iotmock || true)}"
[ -x "$BIN" ] || { echo "custom_auth.sh needs IOTMOCK_BIN (an iotmock binary)"; echo "0 passed, 1 failed"; exit 1; }
WORK="$(mktemp -d -t custom-auth.XXXXXX)"; cd "$WORK" || exit 1
RUN="$(date +%s)$$"
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

python3 "$HERE/custom_auth_hook.py" hook.port events.jsonl &
HOOK_PID=$!
for _ in $(seq 100); do [ -f hook.port ] && break; sleep 0.1; done
CAPI="$(free)"; CMQTT="$(free)"; C443="$(free)"
"$BIN" serve --api-addr "127.0.0.1:$CAPI" --mqtt-addr "127.0.0.1:$CMQTT" --port-443-addr "127.0.0.1:$C443" \
  --https-addr off --state-dir state --lambda-url "http://127.0.0.1:$(cat hook.port)" > mock.log 2>&1 &
MOCK_PID=$!
trap 'kill "$MOCK_PID" "$HOOK_PID" 2>/dev/null; wait 2>/dev/null; cd / && rm -rf "$WORK"' EXIT
ENDPOINT="http://127.0.0.1:$CAPI"
curl -sf --retry 50 --retry-delay 0 --retry-connrefused --max-time 30 "$ENDPOINT/iotmock/AmazonRootCA1.pem" -o AmazonRootCA1.pem
echo "== custom authorizers: mock API $ENDPOINT, port 443 on $HOST:$C443, function on port $(cat hook.port) (scratch $WORK)"

echo "-- clients (pip: awsiotsdk)"
python3 -m venv venv > pip.log 2>&1 && venv/bin/pip install --quiet awsiotsdk >> pip.log 2>&1
check "the AWS IoT Device SDK v2 for Python installs" "$(venv/bin/python -c 'import awsiot' 2>/dev/null && echo 1 || echo 0)" "$(tail -n 5 pip.log)"

echo "-- control plane (aws iot)"
FN="arn:aws:lambda:$REGION:123456789012:function:device-auth"
openssl genrsa -out key.pem 2048 2>/dev/null; openssl rsa -in key.pem -pubout -out pub.pem 2>/dev/null
openssl genrsa -out weak.pem 1024 2>/dev/null; openssl rsa -in weak.pem -pubout -out weak-pub.pem 2>/dev/null
sign() { printf '%s' "$1" | openssl dgst -sha256 -sign key.pem | openssl base64 -A; }
OUT="$(iot create-authorizer --authorizer-name Signed --authorizer-function-arn "$FN" --token-key-name tok \
  --token-signing-public-keys "key1=$(cat pub.pem)" --status ACTIVE 2>&1)"
check "create-authorizer (signed)" "$(json_ok "$OUT" '.authorizerArn | endswith(":authorizer/Signed")')" "$OUT"
OUT="$(iot describe-authorizer --authorizer-name Signed 2>&1)"
check "describe-authorizer" "$(json_ok "$OUT" '.authorizerDescription | .tokenKeyName == "tok" and .signingDisabled == false and .status == "ACTIVE"')" "$OUT"
OUT="$(iot create-authorizer --authorizer-name Weak --authorizer-function-arn "$FN" --token-key-name tok \
  --token-signing-public-keys "k=$(cat weak-pub.pem)" 2>&1)"
check "a 1024-bit signing key is refused" "$([[ "$OUT" == *InvalidRequestException* ]] && echo 1 || echo 0)" "$OUT"
OUT="$(iot create-authorizer --authorizer-name Unsigned --authorizer-function-arn "$FN" --signing-disabled 2>&1)"
check "create-authorizer (signing disabled)" "$(json_ok "$OUT" '.authorizerName == "Unsigned"')" "$OUT"
OUT="$(iot list-authorizers 2>&1)"
check "list-authorizers" "$(json_ok "$OUT" '[.authorizers[].authorizerName] == ["Signed","Unsigned"]')" "$OUT"
OUT="$(iot delete-authorizer --authorizer-name Unsigned 2>&1)"
check "an ACTIVE authorizer is not deleted" "$([[ "$OUT" == *DeleteConflictException* ]] && echo 1 || echo 0)" "$OUT"
OUT="$(iot test-invoke-authorizer --authorizer-name Signed --token allow --token-signature "$(sign allow)" \
  --mqtt-context "username=u,password=$(printf pw | base64),clientId=c1" 2>&1)"
check "test-invoke-authorizer: the function's answer" "$(json_ok "$OUT" '.isAuthenticated == true and .principalId == "device1" and .refreshAfterInSeconds == 300')" "$OUT"
BEFORE="$(wc -l < events.jsonl)"
OUT="$(iot test-invoke-authorizer --authorizer-name Signed --token allow --token-signature "$(sign other)" 2>&1)"
check "test-invoke-authorizer: a forged signature is refused" "$([[ "$OUT" == *InvalidRequestException* ]] && echo 1 || echo 0)" "$OUT"
check "and the function was not invoked" "$([ "$(wc -l < events.jsonl)" = "$BEFORE" ] && echo 1 || echo 0)"
OUT="$(iot set-default-authorizer --authorizer-name Unsigned 2>&1)"
check "set-default-authorizer" "$(json_ok "$OUT" '.authorizerName == "Unsigned"')" "$OUT"
OUT="$(iot describe-default-authorizer 2>&1)"
check "describe-default-authorizer" "$(json_ok "$OUT" '.authorizerDescription.authorizerName == "Unsigned"')" "$OUT"

echo "-- MQTT on port 443 with ALPN mqtt"
SIG="$(sign allow)"
ENC_SIG="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$SIG")"
USER="mqttdev?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature=$ENC_SIG&tok=allow"
MQ=(--tls-alpn mqtt --cafile AmazonRootCA1.pem -h "$HOST" -p "$C443")
stdbuf -oL timeout 15 mosquitto_sub "${MQ[@]}" -i "sub-$RUN" -u "$USER" -q 1 -t "custom/$RUN" -C 1 -d > sub.txt 2>&1 &
SUB=$!
for _ in $(seq 300); do grep -q SUBACK sub.txt && break; sleep 0.1; done
timeout 10 mosquitto_pub "${MQ[@]}" -i "pub-$RUN" -u "$USER" -q 1 -t "custom/$RUN" -m '{"via":"mosquitto"}' > pub.txt 2>&1
wait "$SUB"
check "mosquitto_pub and mosquitto_sub with a signed token in the username" "$(grep -q '{"via":"mosquitto"}' sub.txt && echo 1 || echo 0)" "$(tail -n 3 sub.txt pub.txt)"
EVENT="$(grep -F '"clientId": "pub-'"$RUN"'"' events.jsonl | tail -n 1)"
check "the function saw AWS's event (token, signatureVerified, protocols)" "$(json_ok "$EVENT" '.token == "allow" and .signatureVerified == true and .protocols == ["tls","mqtt"]')" "$EVENT"
BEFORE="$(wc -l < events.jsonl)"
BAD="mqttdev?x-amz-customauthorizer-name=Signed&x-amz-customauthorizer-signature=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$(sign forged)")&tok=allow"
timeout 10 mosquitto_pub "${MQ[@]}" -i "bad-$RUN" -u "$BAD" -q 1 -t "custom/$RUN" -m x > bad.txt 2>&1
check "a bad signature is refused (not authorised)" "$(grep -qi 'not authori' bad.txt && echo 1 || echo 0)" "$(cat bad.txt)"
check "and the function was not invoked" "$([ "$(wc -l < events.jsonl)" = "$BEFORE" ] && echo 1 || echo 0)"
timeout 10 mosquitto_pub "${MQ[@]}" -i "pw-$RUN" -u alice -P allow -q 1 -t "custom/$RUN" -m x > pw.txt 2>&1
EVENT="$(tail -n 1 events.jsonl)"
check "the default authorizer takes a username and password (passed on base64-encoded)" \
  "$([ -s pw.txt ] && echo 0 || json_ok "$EVENT" ".protocolData.mqtt.password == \"$(printf allow | base64)\"")" "$(cat pw.txt) $EVENT"
timeout 10 mosquitto_pub "${MQ[@]}" -i "deny-$RUN" -u alice -P deny -q 1 -t "custom/$RUN" -m x > deny.txt 2>&1
check "a function that answers isAuthenticated false refuses" "$(grep -qi 'not authori' deny.txt && echo 1 || echo 0)" "$(cat deny.txt)"

echo "-- the AWS IoT Device SDK v2 for Python"
OUT="$(timeout 60 venv/bin/python "$HERE/custom_auth_sdk.py" signed "$HOST" "$C443" AmazonRootCA1.pem "custom/$RUN/sdk" "$SIG" 2>&1 | tail -n 1)"
check "direct_with_custom_authorizer, signed" "$([[ "$OUT" == PASS* ]] && echo 1 || echo 0)" "$OUT"
OUT="$(timeout 60 venv/bin/python "$HERE/custom_auth_sdk.py" unsigned "$HOST" "$C443" AmazonRootCA1.pem "custom/$RUN/sdk2" 2>&1 | tail -n 1)"
check "direct_with_custom_authorizer, unsigned (default authorizer, password)" "$([[ "$OUT" == PASS* ]] && echo 1 || echo 0)" "$OUT"

echo "-- HTTPS publish on port 443 with the authorizer's headers"
CH=(curl -s --cacert AmazonRootCA1.pem -o answer.json -w '%{http_code}' -X POST --data '{}' -H "x-amz-customauthorizer-name: Signed" -H "tok: allow")
CODE="$("${CH[@]}" -H "x-amz-customauthorizer-signature: $SIG" "https://$HOST:$C443/topics/custom%2F$RUN%2Fhttps")"
check "curl publishes with a signed token" "$([ "$CODE" = 200 ] && echo 1 || echo 0)" "$CODE $(cat answer.json)"
CODE="$("${CH[@]}" -H "x-amz-customauthorizer-signature: $SIG" "https://$HOST:$C443/topics/elsewhere%2F$RUN")"
check "the returned policy refuses other topics (403)" "$([ "$CODE" = 403 ] && echo 1 || echo 0)" "$CODE $(cat answer.json)"
CODE="$("${CH[@]}" -H "x-amz-customauthorizer-signature: $(sign forged)" "https://$HOST:$C443/topics/custom%2F$RUN%2Fhttps")"
check "a forged signature is refused 401" "$([ "$CODE" = 401 ] && echo 1 || echo 0)" "$CODE $(cat answer.json)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
