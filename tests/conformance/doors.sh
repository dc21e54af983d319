#!/usr/bin/env bash
# doors.sh -- the doors besides 8883, driven only by third-party clients: paho-mqtt over
# websockets with a URL presigned by botocore (with and without a session token appended, and
# an expired one), the AWS IoT Device SDK v2 for Python (websockets_with_default_aws_signing),
# mqtt.js over WSS, curl for HTTPS publish with a client certificate on 8443 (reaching a
# mosquitto subscriber on 8883, refused without the policy's right, 413 past 128 KB), and
# openssl s_client for HTTPS publish on port 443 with ALPN x-amzn-http-ca.
#
# Usage:  doors.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# The door ports come from PORT_443 (default 4443) and HTTPS_PORT (default 8443). With
# IOTMOCK_BIN (an iotmock binary), a second mock is started with --sigv4-credentials, and the
# SDK-signed URLs must verify there while a wrong secret is refused.
# Needs: aws, jq, curl, openssl, mosquitto_sub, python3 (venv + pip), node + npm, timeout.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl openssl mosquitto_sub python3 node npm timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
HERE="$(cd "$(dirname "$0")" && pwd)"
P443="${PORT_443:-4443}"
PHTTPS="${HTTPS_PORT:-8443}"
WORK="$(mktemp -d -t doors.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
echo "== doors against $ENDPOINT: port 443 on $HOST:$P443, HTTPS on $HOST:$PHTTPS (scratch $WORK)"
new_device "doors-$RUN"

echo "-- clients (pip: paho-mqtt botocore awsiotsdk; npm: mqtt)"
python3 -m venv venv > pip.log 2>&1 && venv/bin/pip install --quiet paho-mqtt botocore awsiotsdk >> pip.log 2>&1
check "the Python clients install" "$([ -x venv/bin/python ] && venv/bin/python -c 'import paho.mqtt, botocore, awsiot' 2>/dev/null && echo 1 || echo 0)" "$(tail -n 5 pip.log)"
npm install --silent --no-audit --no-fund mqtt@5 > npm.log 2>&1
check "mqtt.js installs" "$([ -d node_modules/mqtt ] && echo 1 || echo 0)" "$(tail -n 5 npm.log)"

echo "-- MQTT over WebSocket with SigV4"
py() { timeout 60 venv/bin/python "$HERE/doors_clients.py" "$1" "$HOST" "$P443" "$REGION" AmazonRootCA1.pem "$2" 2>&1 | tail -n 1; }
for case in paho-presigned paho-token sdk-v2 paho-expired; do
  OUT="$(py "$case" "doors/$RUN/$case")"
  check "$case" "$([[ "$OUT" == PASS* ]] && echo 1 || echo 0)" "$OUT"
done
cp "$HERE/doors_mqttjs.js" .
OUT="$(timeout 30 node doors_mqttjs.js "$HOST" "$P443" "$REGION" AmazonRootCA1.pem "doors/$RUN/mqttjs" 2>&1 | tail -n 1)"
check "mqtt.js over WSS (MQTT 5)" "$([[ "$OUT" == PASS* ]] && echo 1 || echo 0)" "$OUT"
CODE="$(curl -s -o refused.json -w '%{http_code}' --cacert AmazonRootCA1.pem -H 'Connection: Upgrade' \
  -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  -H 'Sec-WebSocket-Protocol: mqtt' "https://$HOST:$P443/mqtt")"
check "an upgrade without a SigV4 query is refused 403" "$([ "$CODE" = 403 ] && echo 1 || echo 0)" "$CODE $(cat refused.json)"

if [ -n "${IOTMOCK_BIN:-}" ]; then
  echo "-- strict mode: --sigv4-credentials verifies the signatures"
  free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  SAPI="$(free)"; SMQTT="$(free)"; S443="$(free)"; mkdir -p strict
  "$IOTMOCK_BIN" serve --api-addr "127.0.0.1:$SAPI" --mqtt-addr "127.0.0.1:$SMQTT" \
    --port-443-addr "127.0.0.1:$S443" --https-addr off --state-dir strict \
    --sigv4-credentials "AKIDCONFORMANCE:secret" > strict.log 2>&1 &
  STRICT_PID=$!
  curl -sf --retry 50 --retry-delay 0 --retry-connrefused --max-time 30 "http://127.0.0.1:$SAPI/iotmock/AmazonRootCA1.pem" -o strict-ca.pem
  for case in paho-presigned paho-token sdk-v2; do
    OUT="$(timeout 60 venv/bin/python "$HERE/doors_clients.py" "$case" "$HOST" "$S443" "$REGION" strict-ca.pem "strict/$RUN/$case" 2>&1 | tail -n 1)"
    check "strict: $case verifies" "$([[ "$OUT" == PASS* ]] && echo 1 || echo 0)" "$OUT"
  done
  OUT="$(timeout 30 node doors_mqttjs.js "$HOST" "$S443" "$REGION" strict-ca.pem "strict/$RUN/mqttjs" 2>&1 | tail -n 1)"
  check "strict: a made-up signature (mqtt.js with zeros) is refused" "$([[ "$OUT" == FAIL* ]] && echo 1 || echo 0)" "$OUT"
  kill "$STRICT_PID" 2>/dev/null; wait "$STRICT_PID" 2>/dev/null
fi

echo "-- HTTPS publish with a client certificate"
CURL=(curl -s --cacert AmazonRootCA1.pem --cert dev.crt --key dev.key)
# watched TOPIC CMD... -> the first "topic payload" a mosquitto subscriber on 8883 sees
watched() { local topic="$1"; shift
  stdbuf -oL timeout 10 mosquitto_sub "${TLS[@]}" -d -i "w-$RUN-$RANDOM" -q 1 -v -t "$topic" -C 1 > got.txt 2>&1 &
  local pid=$! i
  for i in $(seq 300); do grep -q SUBACK got.txt && break; sleep 0.1; done
  "$@" > answer.txt; wait "$pid"; grep -v -e '^Client ' -e '^Subscribed' got.txt | head -n 1; }
GOT="$(watched "doors/$RUN/h" "${CURL[@]}" -X POST --data '{"via":"curl"}' "https://$HOST:$PHTTPS/topics/doors%2F$RUN%2Fh?qos=1")"
check "curl on 8443 publishes; a subscriber on 8883 gets it" "$([ "$GOT" = "doors/$RUN/h {\"via\":\"curl\"}" ] && echo 1 || echo 0)" "$GOT"
check "the answer is AWS's {message: OK, traceId}" "$(json_ok "$(cat answer.txt)" '.message == "OK" and (.traceId|length) > 0')" "$(cat answer.txt)"
head -c 131073 /dev/zero | tr '\0' x > big.bin
CODE="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary @big.bin "https://$HOST:$PHTTPS/topics/doors%2Fbig")"
check "a payload over 128 KB is refused 413" "$([ "$CODE" = 413 ] && echo 1 || echo 0)" "$CODE"
PROPS="$(printf '[{"deviceName":"alpha"}]' | base64 | tr -d '\n')"
CODE="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST -H "x-amz-mqtt5-user-properties: $PROPS" --data '{}' "https://$HOST:$PHTTPS/topics/doors%2Fprops")"
check "MQTT 5 user properties in the header are taken" "$([ "$CODE" = 200 ] && echo 1 || echo 0)" "$CODE"
REQ="POST /topics/doors%2F$RUN%2Falpn?qos=1 HTTP/1.1\r\nHost: $HOST\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
GOT="$(watched "doors/$RUN/alpn" sh -c "printf '%b' '$REQ' | timeout 10 openssl s_client -quiet -connect $HOST:$P443 -servername $HOST -alpn x-amzn-http-ca -CAfile AmazonRootCA1.pem -cert dev.crt -key dev.key 2>/dev/null")"
check "port 443 with ALPN x-amzn-http-ca publishes" "$([ "$GOT" = "doors/$RUN/alpn {}" ] && echo 1 || echo 0)" "$GOT $(head -c 300 answer.txt)"
# A second device whose policy allows publishing to one topic only.
iot create-keys-and-certificate --set-as-active > narrow.json
jq -r .certificatePem narrow.json > narrow.crt; jq -r .keyPair.PrivateKey narrow.json > narrow.key
iot create-policy --policy-name "narrow-$RUN" --policy-document \
  "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":\"arn:aws:iot:*:*:topic/doors/$RUN/ok\"}]}" > /dev/null
iot attach-policy --policy-name "narrow-$RUN" --target "$(jq -r .certificateArn narrow.json)"
NARROW=(curl -s --cacert AmazonRootCA1.pem --cert narrow.crt --key narrow.key -o answer.json -w '%{http_code}' -X POST --data '{}')
CODE="$("${NARROW[@]}" "https://$HOST:$PHTTPS/topics/doors%2F$RUN%2Fok")"
check "a device may publish where its policy allows" "$([ "$CODE" = 200 ] && echo 1 || echo 0)" "$CODE"
CODE="$("${NARROW[@]}" "https://$HOST:$PHTTPS/topics/doors%2F$RUN%2Felsewhere")"
check "and is refused 403 ForbiddenException elsewhere" "$([ "$CODE" = 403 ] && echo 1 || echo 0)" "$CODE $(cat answer.json)"
iot update-certificate --certificate-id "$(jq -r .certificateId narrow.json)" --new-status INACTIVE
CODE="$("${NARROW[@]}" "https://$HOST:$PHTTPS/topics/doors%2F$RUN%2Fok")"
check "an INACTIVE certificate is refused" "$([ "$CODE" = 403 ] && echo 1 || echo 0)" "$CODE $(cat answer.json)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
