#!/usr/bin/env bash
# indexing.sh -- fleet indexing and Device Defender metrics, driven only by third-party
# clients: the aws CLI (indexing configuration, describe-index, search-index, the
# aggregations, iot-data shadows, list-metric-values) and live mosquitto connections (the
# connectivity data, a metrics report), against a running mock.
#
# Usage:  indexing.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Needs: aws, jq, curl, mosquitto_sub, stdbuf. Dummy credentials only.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl mosquitto_sub mosquitto_pub stdbuf"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t indexing.XXXXXX)"; cd "$WORK" || exit 1
SUB_PID=""
trap 'kill $SUB_PID 2>/dev/null; cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
T="idx$RUN"
echo "== fleet indexing against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
new_device "indexing-$RUN"
wait_for() { local i; for i in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# names QUERY -> the thing names SearchIndex finds, sorted, space-separated
names() { iot search-index --query-string "$1" 2>/dev/null | jq -r '[.things[].thingName] | sort | join(" ")'; }

iot update-indexing-configuration --thing-indexing-configuration \
  '{"thingIndexingMode":"REGISTRY_AND_SHADOW","thingConnectivityIndexingMode":"STATUS","customFields":[{"name":"shadow.reported.temp","type":"Number"}]}' \
  > /dev/null 2> cfg.err
R="$(iot get-indexing-configuration 2>/dev/null)"
check "get-indexing-configuration shows the modes and the custom field" \
  "$(json_ok "$R" '.thingIndexingConfiguration.thingIndexingMode=="REGISTRY_AND_SHADOW" and .thingIndexingConfiguration.thingConnectivityIndexingMode=="STATUS" and (.thingIndexingConfiguration.customFields|any(.name=="shadow.reported.temp" and .type=="Number"))')" "$R $(cat cfg.err)"
R="$(iot describe-index --index-name AWS_Things 2>/dev/null)"
check "describe-index: AWS_Things ACTIVE with the schema of the modes" \
  "$(json_ok "$R" '.indexStatus=="ACTIVE" and .schema=="REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS"')" "$R"
R="$(iot list-indices 2>/dev/null)"
check "list-indices names AWS_Things" "$(json_ok "$R" '.indexNames|index("AWS_Things")!=null')" "$R"
iot describe-index --index-name AWS_ThingGroups > /dev/null 2> groups.err
check "an index that is off is ResourceNotFoundException" "$(grep -q ResourceNotFoundException groups.err && echo 1 || echo 0)" "$(cat groups.err)"

for spec in "a kitchen 19" "b kitchen 25" "c hall 31"; do
  set -- $spec
  iot create-thing --thing-name "$T-$1" --attribute-payload "{\"attributes\":{\"room\":\"$2\"}}" > /dev/null
  echo "{\"state\":{\"reported\":{\"temp\":$3}}}" > s.json
  data update-thing-shadow --thing-name "$T-$1" --payload fileb://s.json out.json > /dev/null
done
R="$(names "thingName:$T* AND attributes.room:kitchen")"
check "field:value with a prefix wildcard and AND" "$([ "$R" = "$T-a $T-b" ] && echo 1 || echo 0)" "$R"
R="$(names "thingName:$T* shadow.reported.temp>20")"
check "a shadow comparison (AND by default)" "$([ "$R" = "$T-b $T-c" ] && echo 1 || echo 0)" "$R"
R="$(names "thingName:$T* AND shadow.reported.temp:[19 TO 25} AND NOT attributes.room:hall")"
check "a mixed range and NOT" "$([ "$R" = "$T-a" ] && echo 1 || echo 0)" "$R"
R="$(names "thingName:$T* AND (attributes.room:hall OR shadow.reported.temp:19)")"
check "OR inside parentheses" "$([ "$R" = "$T-a $T-c" ] && echo 1 || echo 0)" "$R"
R="$(names "thingName:($T* AND -$T-b) attributes.room:*")"
check "field grouping with an excluded term, and field:* (exists)" "$([ "$R" = "$T-a $T-c" ] && echo 1 || echo 0)" "$R"
R="$(names "thingName:$T* AND shadow.reported.temp<=25 AND shadow.reported.temp>=25")"
check ">= and <= together" "$([ "$R" = "$T-b" ] && echo 1 || echo 0)" "$R"
R="$(names "\"$T-c\"")"
check "a bare phrase searches every field" "$([ "$R" = "$T-c" ] && echo 1 || echo 0)" "$R"
iot search-index --query-string "a b c d e f g h" > /dev/null 2> many.err
check "more than 7 terms is InvalidQueryException" "$(grep -q InvalidQueryException many.err && echo 1 || echo 0)" "$(cat many.err)"
iot search-index --query-string "thingName:*$RUN" > /dev/null 2> bad.err
check "a leading wildcard is InvalidQueryException" "$(grep -q InvalidQueryException bad.err && echo 1 || echo 0)" "$(cat bad.err)"
R="$(iot search-index --query-string "thingName:$T-c" 2>/dev/null)"
check "the ThingDocument carries attributes and the shadow as a JSON string" \
  "$(json_ok "$R" '.things[0].attributes.room=="hall" and (.things[0].shadow|fromjson|.reported.temp==31)')" "$R"

stdbuf -oL mosquitto_sub "${TLS[@]}" -V mqttv311 -d -i "$T-a" -t "idx/$RUN" > sub.out 2>&1 &
SUB_PID=$!
wait_for sub.out CONNACK || true
R="$(names "thingName:$T* AND connectivity.connected:true")"
check "a live connection is connectivity.connected:true at once" "$([ "$R" = "$T-a" ] && echo 1 || echo 0)" "$R"
kill "$SUB_PID" 2>/dev/null; wait "$SUB_PID" 2>/dev/null; SUB_PID=""
R=""
for _ in $(seq 50); do
  R="$(iot search-index --query-string "thingName:$T-a" 2>/dev/null)"
  json_ok "$R" '.things[0].connectivity.connected==false' | grep -q 1 && break
  sleep 0.1
done
check "after the disconnect: connected false, with a timestamp and a disconnectReason" \
  "$(json_ok "$R" '.things[0].connectivity.connected==false and (.things[0].connectivity.timestamp|type=="number") and (.things[0].connectivity.disconnectReason|type=="string")')" "$R"

R="$(iot get-statistics --query-string "thingName:$T* AND attributes.room:kitchen" --aggregation-field shadow.reported.temp 2>/dev/null)"
check "get-statistics over a Number custom field" \
  "$(json_ok "$R" '.statistics.count==2 and .statistics.average==22 and .statistics.minimum==19 and .statistics.maximum==25')" "$R"
R="$(iot get-percentiles --query-string "thingName:$T*" --aggregation-field shadow.reported.temp --percents 50 2>/dev/null)"
check "get-percentiles: the median" "$(json_ok "$R" '.percentiles[0].percent==50 and .percentiles[0].value==25')" "$R"
R="$(iot get-cardinality --query-string "thingName:$T*" --aggregation-field thingName 2>/dev/null)"
check "get-cardinality counts distinct values" "$(json_ok "$R" '.cardinality==3')" "$R"
R="$(iot get-buckets-aggregation --query-string "thingName:$T*" --aggregation-field connectivity.connected \
  --buckets-aggregation-type '{"termsAggregation":{"maxBuckets":5}}' 2>/dev/null)"
check "get-buckets-aggregation: one bucket per value" \
  "$(json_ok "$R" '.totalCount==3 and (.buckets|length)==1 and .buckets[0].keyValue=="false" and .buckets[0].count==1')" "$R"
iot get-statistics --query-string "thingName:$T*" --aggregation-field attributes.room > /dev/null 2> agg.err
check "an aggregation over a field the index does not declare is InvalidAggregationException" \
  "$(grep -q InvalidAggregationException agg.err && echo 1 || echo 0)" "$(cat agg.err)"

echo "-- Device Defender metrics"
M="\$aws/things/$T-a/defender/metrics/json"
stdbuf -oL mosquitto_sub "${TLS[@]}" -V mqttv5 -d -v -i "dd-$T" -t "$M/accepted" -t "$M/rejected" > dd.out 2>&1 &
SUB_PID=$!
wait_for dd.out SUBACK || true
mosquitto_pub "${TLS[@]}" -V mqttv5 -q 1 -i "$T-a" -t "$M" \
  -m '{"header":{"report_id":1,"version":"1.0"},"metrics":{"network_stats":{"bytes_in":512}},"custom_metrics":{"temp":[{"number":40}]}}'
wait_for dd.out "$M/accepted {" || true
R="$(grep -o "$M/accepted {.*" dd.out | tail -1 | cut -d' ' -f2-)"
check "a metrics report is answered on .../accepted with its report id" "$(json_ok "$R" '.status=="ACCEPTED" and .reportId==1')" "$R"
mosquitto_pub "${TLS[@]}" -V mqttv5 -q 1 -i "$T-a" -t "$M" -m '{"custom_metrics":{"temp":{"number":1}}}'
wait_for dd.out "$M/rejected {" || true
R="$(grep -o "$M/rejected {.*" dd.out | tail -1 | cut -d' ' -f2-)"
check "a malformed report is answered on .../rejected: InvalidPayload" \
  "$(json_ok "$R" '.status=="REJECTED" and .statusDetails.ErrorCode=="InvalidPayload"')" "$R"
kill "$SUB_PID" 2>/dev/null; SUB_PID=""
R="$(iot list-metric-values --thing-name "$T-a" --metric-name aws:all-bytes-in \
  --start-time 2000-01-01T00:00:00Z --end-time 2100-01-01T00:00:00Z 2>&1)"
check "list-metric-values lists the report's values" "$(json_ok "$R" '.metricDatumList[0].value.count==512')" "$R"
R="$(iot list-metric-values --thing-name "$T-a" --metric-name temp \
  --start-time 2000-01-01T00:00:00Z --end-time 2100-01-01T00:00:00Z 2>&1)"
check "and its custom metrics" "$(json_ok "$R" '.metricDatumList[0].value.number==40')" "$R"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
