#!/usr/bin/env bash
# aws-behaviour.sh -- persistent sessions, retained messages (MQTT and iot-data), last wills,
# lifecycle events and just-in-time registration, driven only by third-party clients (aws CLI,
# openssl, mosquitto_pub/mosquitto_sub) against a running mock.
#
# Usage:  aws-behaviour.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Needs: aws, openssl, jq, curl, mosquitto_pub, mosquitto_sub, timeout. Dummy credentials only.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws openssl jq curl mosquitto_pub mosquitto_sub timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t aws-behaviour.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)-$$"
echo "== AWS IoT behaviour against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
curl -sf "$ENDPOINT/iotmock/AmazonRootCA1.pem" -o AmazonRootCA1.pem

# a device with an allow-all policy, issued by AWS (CreateKeysAndCertificate)
iot create-keys-and-certificate --set-as-active > dev.json
jq -r .certificatePem dev.json > dev.crt; jq -r .keyPair.PrivateKey dev.json > dev.key
DEV_ARN="$(jq -r .certificateArn dev.json)"
iot create-policy --policy-name "all-$RUN" --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}' > /dev/null
iot attach-policy --policy-name "all-$RUN" --target "$DEV_ARN"
TLS=(--cafile AmazonRootCA1.pem --cert dev.crt --key dev.key -h "$HOST" -p "$PORT")

# wait_for FILE PATTERN -> 0 when PATTERN shows up in FILE within 10 s
wait_for() { local i; for i in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# a background subscriber that prints topic and payload, ready once its SUBACK is logged
sub_bg() { local out="$1"; shift
  stdbuf -oL mosquitto_sub "${TLS[@]}" -V mqttv311 -d -v "$@" > "$out" 2>&1 & echo $!; }

echo "-- persistent sessions"
T="persist/$RUN"
timeout 10 mosquitto_sub "${TLS[@]}" -i "p-$RUN" -c -q 1 -t "$T" -E > /dev/null 2>&1
mosquitto_pub "${TLS[@]}" -i "pp-$RUN" -q 1 -t "$T" -m "while-offline" > /dev/null 2>&1
GOT="$(timeout 10 mosquitto_sub "${TLS[@]}" -i "p-$RUN" -c -q 1 -t "$T" -C 1 2>&1)"
check "QoS 1 message queued while offline is delivered on resume (cleanSession=0)" \
  "$([ "$GOT" = while-offline ] && echo 1 || echo 0)" "got: $GOT"

echo "-- retained messages"
R="retained/$RUN/lamp"
mosquitto_pub "${TLS[@]}" -i "r-$RUN" -q 1 -r -t "$R" -m "on" > /dev/null 2>&1
GOT="$(timeout 10 mosquitto_sub "${TLS[@]}" -i "rs-$RUN" -q 1 -t "$R" -C 1 2>&1)"
check "an exact subscription receives the retained message" "$([ "$GOT" = on ] && echo 1 || echo 0)" "got: $GOT"
GOT="$(timeout 3 mosquitto_sub "${TLS[@]}" -i "rw-$RUN" -q 1 -t "retained/$RUN/#" -C 1 -W 2 2>&1)"
check "a wildcard subscription does not (AWS)" "$([ -z "$GOT" ] || [[ "$GOT" == *"Timed out"* ]] && echo 1 || echo 0)" "got: $GOT"
data get-retained-message --topic "$R" > gr.json 2> gr.err
P="$(jq -r .payload gr.json 2>/dev/null)"
check "iot-data get-retained-message returns it" "$([ "$P" = "b24=" ] || [ "$P" = on ] && echo 1 || echo 0)" "$(cat gr.json gr.err | tr '\n' ' ')"
data list-retained-messages > lr.json 2>&1
check "iot-data list-retained-messages lists it" "$(jq -e --arg t "$R" '[.retainedTopics[]?|select(.topic==$t)]|length==1' lr.json >/dev/null && echo 1 || echo 0)"
printf 'from-http' > body.txt
PID="$(sub_bg http.out -q 1 -t "http/$RUN" -C 1)"
wait_for http.out "SUBACK" || true
data publish --topic "http/$RUN" --qos 1 --payload fileb://body.txt > /dev/null 2>&1
wait_for http.out "from-http"; check "iot-data publish reaches an MQTT subscriber" "$([ $? = 0 ] && echo 1 || echo 0)"
kill "$PID" 2>/dev/null
mosquitto_pub "${TLS[@]}" -i "rc-$RUN" -q 1 -r -t "$R" -n > /dev/null 2>&1
data get-retained-message --topic "$R" > /dev/null 2> gone.err
check "an empty retained publish clears it" "$(grep -q ResourceNotFoundException gone.err && echo 1 || echo 0)"

echo "-- last will"
PID="$(sub_bg will.out -q 1 -t "wills/$RUN/#")"
wait_for will.out "SUBACK" || true
stdbuf -oL mosquitto_sub "${TLS[@]}" -i "w-$RUN" -t "nothing/$RUN" --will-topic "wills/$RUN/w" --will-payload "gone" --will-qos 1 > /dev/null 2>&1 &
WPID=$!; sleep 1; kill -9 "$WPID" 2>/dev/null
wait_for will.out "wills/$RUN/w gone"; check "the will is published when a client vanishes" "$([ $? = 0 ] && echo 1 || echo 0)" "$(tail -3 will.out | tr '\n' ' ')"
kill "$PID" 2>/dev/null

echo "-- lifecycle events"
PID="$(sub_bg life.out -q 1 -t "\$aws/events/presence/connected/life-$RUN")"
wait_for life.out "SUBACK" || true
mosquitto_pub "${TLS[@]}" -i "life-$RUN" -q 1 -t "x/$RUN" -m x > /dev/null 2>&1
wait_for life.out '"eventType":"connected"'; check "a connected event is published" "$([ $? = 0 ] && echo 1 || echo 0)" "$(tail -2 life.out | tr '\n' ' ')"
check "it names the certificate as principalIdentifier" "$(grep -q "$(jq -r .certificateId dev.json)" life.out && echo 1 || echo 0)"
kill "$PID" 2>/dev/null

echo "-- just-in-time registration"
openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -x509 -new -nodes -key ca.key -sha256 -days 365 -subj "/CN=jitr ca $RUN" -out ca.pem 2>/dev/null
CODE="$(iot get-registration-code | jq -r .registrationCode)"
openssl genrsa -out v.key 2048 2>/dev/null; openssl req -new -key v.key -subj "/CN=$CODE" -out v.csr 2>/dev/null
openssl x509 -req -in v.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out v.pem -days 30 -sha256 2>/dev/null
CA_ID="$(iot register-ca-certificate --ca-certificate file://ca.pem --verification-cert file://v.pem \
  --set-as-active --allow-auto-registration | jq -r .certificateId)"
openssl genrsa -out j.key 2048 2>/dev/null; openssl req -new -key j.key -subj "/CN=jitr-$RUN" -out j.csr 2>/dev/null
openssl x509 -req -in j.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out j.pem -days 30 -sha256 2>/dev/null
cat j.pem ca.pem > j-chain.crt
J_ID="$(openssl x509 -in j.pem -outform DER | openssl dgst -sha256 -r | cut -c1-64)"
PID="$(sub_bg jitr.out -q 1 -t "\$aws/events/certificates/registered/$CA_ID")"
wait_for jitr.out "SUBACK" || true
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert j-chain.crt --key j.key -h "$HOST" -p "$PORT" \
  -i "jitr-$RUN" -q 1 -t "j/$RUN" -m first > jfirst.out 2>&1
check "the first connection of an unknown device is refused" "$([ $? != 0 ] && echo 1 || echo 0)" "$(tr '\n' ' ' < jfirst.out)"
wait_for jitr.out '"certificateStatus":"PENDING_ACTIVATION"'; check "the registered event is published" "$([ $? = 0 ] && echo 1 || echo 0)" "$(tail -2 jitr.out | tr '\n' ' ')"
kill "$PID" 2>/dev/null
ST="$(iot describe-certificate --certificate-id "$J_ID" 2>/dev/null | jq -r .certificateDescription.status)"
check "the certificate is registered PENDING_ACTIVATION" "$([ "$ST" = PENDING_ACTIVATION ] && echo 1 || echo 0)" "status=$ST"
iot update-certificate --certificate-id "$J_ID" --new-status ACTIVE
iot attach-policy --policy-name "all-$RUN" --target "$(iot describe-certificate --certificate-id "$J_ID" | jq -r .certificateDescription.certificateArn)"
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert j.pem --key j.key -h "$HOST" -p "$PORT" \
  -i "jitr-$RUN" -q 1 -t "j/$RUN" -m second > jsecond.out 2>&1
check "once activated with a policy it connects" "$([ $? = 0 ] && echo 1 || echo 0)" "$(tr '\n' ' ' < jsecond.out)"

echo ""
echo "scratch directory: $WORK"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
