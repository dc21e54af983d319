#!/usr/bin/env bash
# shadow.sh -- Device Shadow, classic and named, driven only by third-party clients: the aws CLI
# (iot-data get/update/delete-thing-shadow, list-named-shadows-for-thing) over HTTP and
# mosquitto_pub/mosquitto_sub over MQTT (3.1.1 and 5) against a running mock.
#
# Usage:  shadow.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Needs: aws, jq, curl, mosquitto_pub, mosquitto_sub, timeout, stdbuf. Dummy credentials only.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl mosquitto_pub mosquitto_sub timeout stdbuf"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t shadow.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
THING="lamp$RUN"
echo "== Device Shadow against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
new_device "shadow-$RUN"

wait_for() { local i; for i in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# sub_bg OUT VERSION ARGS...: a background subscriber printing "topic payload" lines
sub_bg() { local out="$1" v="$2"; shift 2
  stdbuf -oL mosquitto_sub "${TLS[@]}" -V "$v" -d -v "$@" > "$out" 2>&1 & echo $!; }
# payload_of FILE TOPIC -> the JSON of the last line on TOPIC
payload_of() { grep -o "$2 {.*" "$1" | tail -1 | cut -d' ' -f2-; }
pub() { mosquitto_pub "${TLS[@]}" -q 1 "$@" > /dev/null 2>&1; }

for V in mqttv311 mqttv5; do
  T="$THING-$V"; P="\$aws/things/$T/shadow"
  echo "-- classic shadow over MQTT ($V)"
  PID="$(sub_bg "$V.out" "$V" -q 1 -i "s-$T" -t "$P/get/+" -t "$P/update/accepted" -t "$P/update/delta" -t "$P/update/documents" -t "$P/update/rejected")"
  wait_for "$V.out" SUBACK || true
  pub -V "$V" -i "p-$T" -t "$P/get" -m '{"clientToken":"g1"}'
  wait_for "$V.out" "$P/get/rejected"
  R="$(payload_of "$V.out" "$P/get/rejected")"
  check "get of a new shadow: get/rejected 404 'No shadow exists with name' ($V)" \
    "$(json_ok "$R" --arg m "No shadow exists with name: '$T'" '.code==404 and .message==$m and .clientToken=="g1"')" "$R"
  pub -V "$V" -i "p-$T" -t "$P/update" -m '{"state":{"reported":{"on":false}},"clientToken":"u1"}'
  wait_for "$V.out" "$P/update/documents"
  R="$(payload_of "$V.out" "$P/update/accepted")"
  check "update: update/accepted version 1 echoing the clientToken ($V)" \
    "$(json_ok "$R" '.version==1 and .clientToken=="u1" and .state.reported.on==false and (.metadata.reported.on.timestamp|type=="number")')" "$R"
  R="$(payload_of "$V.out" "$P/update/documents")"
  check "update/documents: current v1, no previous on creation ($V)" \
    "$(json_ok "$R" '.current.version==1 and (has("previous")|not)')" "$R"
  pub -V "$V" -i "p-$T" -t "$P/update" -m '{"state":{"desired":{"on":true}},"clientToken":"u2"}'
  wait_for "$V.out" "$P/update/delta"
  R="$(payload_of "$V.out" "$P/update/delta")"
  check "desired differs from reported: update/delta with the difference ($V)" \
    "$(json_ok "$R" '.state=={"on":true} and .version==2 and .clientToken=="u2"')" "$R"
  pub -V "$V" -i "p-$T" -t "$P/update" -m '{"state":{"reported":{"on":true}},"version":1}'
  wait_for "$V.out" "$P/update/rejected"
  R="$(payload_of "$V.out" "$P/update/rejected")"
  check "a stale version: update/rejected 409 Version conflict ($V)" \
    "$(json_ok "$R" '.code==409 and .message=="Version conflict"')" "$R"
  pub -V "$V" -i "p-$T" -t "$P/get" -n
  wait_for "$V.out" "$P/get/accepted"
  R="$(payload_of "$V.out" "$P/get/accepted")"
  check "get/accepted: desired, reported, delta and version 2 ($V)" \
    "$(json_ok "$R" '.version==2 and .state.delta=={"on":true} and .state.reported.on==false')" "$R"
  kill "$PID" 2>/dev/null
done

echo "-- classic shadow over HTTP (aws iot-data)"
T="$THING-http"; P="\$aws/things/$T/shadow"
PID="$(sub_bg http.out mqttv311 -q 1 -i "s-$T" -t "$P/update/accepted" -t "$P/update/delta" -t "$P/update/rejected")"
wait_for http.out SUBACK || true
echo '{"state":{"desired":{"temp":21}},"clientToken":"h1"}' > up.json
data update-thing-shadow --thing-name "$T" --payload fileb://up.json out.json > /dev/null 2> up.err
check "update-thing-shadow answers the accepted document" "$(json_ok "$(cat out.json 2>/dev/null)" '.version==1')" "$(cat out.json up.err 2>/dev/null | tr '\n' ' ')"
wait_for http.out "$P/update/delta"
check "an HTTP update publishes update/accepted and update/delta over MQTT" \
  "$(grep -q "$P/update/accepted {" http.out && grep -q "$P/update/delta {" http.out && echo 1 || echo 0)" "$(tail -3 http.out | tr '\n' ' ')"
data get-thing-shadow --thing-name "$T" get.json > /dev/null 2>&1
check "get-thing-shadow returns desired and delta" "$(json_ok "$(cat get.json 2>/dev/null)" '.state.desired.temp==21 and .state.delta.temp==21')" "$(cat get.json 2>/dev/null)"
echo '{"state":{"reported":{"temp":20}},"version":7}' > stale.json
data update-thing-shadow --thing-name "$T" --payload fileb://stale.json out2.json > /dev/null 2> stale.err
check "a version conflict over HTTP is ConflictException" "$(grep -q ConflictException stale.err && echo 1 || echo 0)" "$(cat stale.err)"
sleep 0.5
check "HTTP errors are not published to update/rejected" "$(grep -q "$P/update/rejected {" http.out && echo 0 || echo 1)"
kill "$PID" 2>/dev/null
data delete-thing-shadow --thing-name "$T" del.json > /dev/null 2>&1
check "delete-thing-shadow answers the current version" "$(json_ok "$(cat del.json 2>/dev/null)" '.version==1')" "$(cat del.json 2>/dev/null)"
data get-thing-shadow --thing-name "$T" gone.json > /dev/null 2> gone.err
check "get after delete is ResourceNotFoundException" "$(grep -q ResourceNotFoundException gone.err && echo 1 || echo 0)" "$(cat gone.err)"

echo "-- named shadows"
T="$THING-named"; P="\$aws/things/$T/shadow/name/config"
PID="$(sub_bg named.out mqttv5 -q 1 -i "s-$T" -t "$P/update/accepted" -t "$P/delete/+")"
wait_for named.out SUBACK || true
pub -V mqttv5 -i "p-$T" -t "$P/update" -m '{"state":{"reported":{"mode":"eco"}}}'
wait_for named.out "$P/update/accepted"
check "a named shadow is created over MQTT" "$(grep -q "$P/update/accepted {" named.out && echo 1 || echo 0)" "$(tail -2 named.out | tr '\n' ' ')"
echo '{"state":{"reported":{"x":1}}}' > n2.json
data update-thing-shadow --thing-name "$T" --shadow-name other --payload fileb://n2.json n2.out > /dev/null 2>&1
data get-thing-shadow --thing-name "$T" --shadow-name config ng.json > /dev/null 2>&1
check "get-thing-shadow --shadow-name reads the MQTT-made shadow" "$(json_ok "$(cat ng.json 2>/dev/null)" '.state.reported.mode=="eco"')" "$(cat ng.json 2>/dev/null)"
data list-named-shadows-for-thing --thing-name "$T" > list.json 2>&1
check "list-named-shadows-for-thing lists both, not the classic one" "$(json_ok "$(cat list.json 2>/dev/null)" '.results==["config","other"]')" "$(cat list.json)"
pub -V mqttv5 -i "p-$T" -t "$P/delete" -m '{"clientToken":"d1"}'
wait_for named.out "$P/delete/accepted"
R="$(payload_of named.out "$P/delete/accepted")"
check "delete/accepted carries the version, not incremented" "$(json_ok "$R" '.version==1 and .clientToken=="d1"')" "$R"
kill "$PID" 2>/dev/null

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
