#!/usr/bin/env bash
# rules.sh -- topic rules driven only by third-party clients: the aws CLI creates, reads, lists,
# disables and deletes rules; mosquitto clients send the traffic and watch what the rules
# republish (filtering, templates, Basic Ingest, error actions); curl reads the action log.
#
# With IOTMOCK_TEST_AWS_URL set (an AWS stand-in such as moto's server, which the mock was
# started with as --aws-endpoint-url), SQS and DynamoDB actions are read back there with the
# aws CLI.
#
# Usage:  rules.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Needs: aws, openssl, jq, curl, mosquitto_pub, mosquitto_sub, timeout. Dummy credentials only.
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl mosquitto_pub mosquitto_sub timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t rules.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
echo "== topic rules against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
new_device "rules-$RUN"
ROLE="arn:aws:iam::123456789012:role/rules"

# rule NAME SQL ACTIONS-JSON [ERROR-ACTION-JSON] -> creates it through the aws CLI
rule() {
  local payload
  payload="$(jq -n --arg sql "$2" --argjson actions "$3" --argjson err "${4:-null}" \
    '{sql: $sql, actions: $actions} + (if $err == null then {} else {errorAction: $err} end)')"
  iot create-topic-rule --rule-name "$1" --topic-rule-payload "$payload"
}
republish() { jq -n --arg t "$1" --arg r "$ROLE" '{republish: {topic: $t, roleArn: $r, qos: 1}}'; }
# first_message TOPIC-FILTER -> the first message's "topic payload" within 10 s, after $@ runs
first_message() { local filter="$1" i; shift
  stdbuf -oL timeout 10 mosquitto_sub "${TLS[@]}" -d -i "w-$RUN-$RANDOM" -q 1 -v -t "$filter" -C 1 > got.txt 2>&1 &
  local pid=$!
  for i in $(seq 300); do grep -q SUBACK got.txt && break; sleep 0.1; done
  "$@"; wait "$pid"; grep -v -e '^Client ' -e '^Subscribed' got.txt | head -n 1; }

echo "-- control plane"
rule "hot_$RUN" "SELECT temp, topic(2) AS device FROM 'sensors/$RUN/+' WHERE temp > 30" \
  "[$(republish "alerts/$RUN/\${topic(3)}")]" > create.out 2>&1
check "create-topic-rule" "$([ $? = 0 ] && echo 1 || echo 0)" "$(cat create.out)"
GOT="$(iot get-topic-rule --rule-name "hot_$RUN" 2>&1)"
check "get-topic-rule shows the SQL, its actions and the rule ARN" \
  "$(json_ok "$GOT" '.rule.sql | contains("temp > 30")')" "$GOT"
check "a rule created without awsIotSqlVersion does not show one" "$(json_ok "$GOT" '.rule.awsIotSqlVersion == null')"
GOT="$(iot list-topic-rules --topic "sensors/$RUN/+" 2>&1)"
check "list-topic-rules --topic finds it by its FROM filter" "$(json_ok "$GOT" --arg n "hot_$RUN" '[.rules[]|select(.ruleName==$n)]|length==1')" "$GOT"
ERR="$(rule "bad_$RUN" "SELECT FROM 'x'" "[]" 2>&1)"
check "bad SQL is refused with SqlParseException" "$([[ "$ERR" == *SqlParseException* ]] && echo 1 || echo 0)" "$ERR"
# the aws CLI drops members the model lacks, so the raw request goes through curl
ERR="$(curl -s -i -X POST "$ENDPOINT/rules/odd_$RUN" -H 'content-type: application/json' \
  -d '{"sql":"SELECT * FROM '"'x'"'","actions":[{"republish":{"topic":"a","roleArn":"r","qoss":1}}]}')"
check "an unknown action field is refused, never ignored" \
  "$([[ "$ERR" == *"400 Bad Request"* && "$ERR" == *InvalidRequestException* && "$ERR" == *qoss* ]] && echo 1 || echo 0)" "$ERR"

echo "-- traffic"
send_readings() {
  mosquitto_pub "${TLS[@]}" -i "s-$RUN" -q 1 -t "sensors/$RUN/d1" -m '{"temp":20}'
  mosquitto_pub "${TLS[@]}" -i "s-$RUN" -q 1 -t "sensors/$RUN/d2" -m '{"temp":35}'; }
GOT="$(first_message "alerts/$RUN/#" send_readings)"
check "WHERE filters, SELECT projects, the topic template resolves" \
  "$([ "$GOT" = "alerts/$RUN/d2 {\"temp\":35,\"device\":\"$RUN\"}" ] && echo 1 || echo 0)" "got: $GOT"
rule "ingest_$RUN" "SELECT *, topic() AS t FROM 'b/#'" "[$(republish "ingested/$RUN")]" > /dev/null
ingest() { mosquitto_pub "${TLS[@]}" -i "i-$RUN" -q 1 -t "\$aws/rules/ingest_$RUN/b/5" -m '{"v":1}'; }
GOT="$(first_message "ingested/$RUN" ingest)"
check "Basic Ingest reaches the named rule; topic() sees past the prefix" \
  "$([ "$GOT" = "ingested/$RUN {\"v\":1,\"t\":\"b/5\"}" ] && echo 1 || echo 0)" "got: $GOT"
rule "broken_$RUN" "SELECT * FROM 'in/$RUN'" "[$(republish "\$\$aws/things/x/jobs/get")]" \
  "$(republish "errors/$RUN")" > /dev/null
fail_one() { mosquitto_pub "${TLS[@]}" -i "f-$RUN" -q 1 -t "in/$RUN" -m 'hello'; }
GOT="$(first_message "errors/$RUN" fail_one)"
check "a failed action runs the error action with AWS's document" \
  "$(json_ok "${GOT#* }" --arg n "broken_$RUN" '.ruleName==$n and .base64OriginalPayload=="aGVsbG8=" and .failures[0].failedAction=="RepublishAction"')" "got: $GOT"
LOGS="$(jq -n --arg r "$ROLE" '[{iotAnalytics: {channelName: "ch_${topic(2)}", roleArn: $r}}]')"
rule "logs_$RUN" "SELECT temp FROM 'tele$RUN/+'" "$LOGS" > /dev/null
mosquitto_pub "${TLS[@]}" -i "t-$RUN" -q 1 -t "tele$RUN/t1" -m '{"temp":21}'
LOG=""; for _ in $(seq 50); do LOG="$(curl -s "$ENDPOINT/iotmock/actions?rule=logs_$RUN")"
  [ "$(echo "$LOG" | jq '.actions|length' 2>/dev/null)" = 1 ] && break; sleep 0.1; done
check "an action that is not sent is captured in the action log, templates resolved" \
  "$(json_ok "$LOG" '.actions[0].outcome=="captured" and .actions[0].parameters.channelName=="ch_t1" and .actions[0].payload.temp==21')" "$LOG"

if [ -n "${IOTMOCK_TEST_AWS_URL:-}" ]; then
  echo "-- actions sent to AWS services ($IOTMOCK_TEST_AWS_URL)"
  aws_at() { aws --endpoint-url "$IOTMOCK_TEST_AWS_URL" --region "$REGION" --output json "$@"; }
  QURL="$(aws_at sqs create-queue --queue-name "tele-$RUN" | jq -r .QueueUrl)"
  aws_at dynamodb create-table --table-name "Tele$RUN" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=device,AttributeType=S \
    --key-schema AttributeName=device,KeyType=HASH > /dev/null
  ACTIONS="$(jq -n --arg q "$QURL" --arg t "Tele$RUN" --arg r "$ROLE" \
    '[{sqs: {queueUrl: $q, roleArn: $r}}, {dynamoDBv2: {putItem: {tableName: $t}, roleArn: $r}}]')"
  rule "aws_$RUN" "SELECT temp, topic(2) AS device FROM 'aws$RUN/+'" "$ACTIONS" > /dev/null
  mosquitto_pub "${TLS[@]}" -i "a-$RUN" -q 1 -t "aws$RUN/d7" -m '{"temp":19.5}'
  MSG=""; for _ in $(seq 50); do
    MSG="$(aws_at sqs receive-message --queue-url "$QURL" --wait-time-seconds 1 | jq -r '.Messages[0].Body // empty')"
    [ -n "$MSG" ] && break; done
  check "the sqs action's message is in the queue (aws sqs receive-message)" \
    "$(json_ok "$MSG" '.temp==19.5 and .device=="d7"')" "got: $MSG"
  ITEM=""; for _ in $(seq 50); do
    ITEM="$(aws_at dynamodb get-item --table-name "Tele$RUN" --key '{"device":{"S":"d7"}}' | jq -c '.Item // empty')"
    [ -n "$ITEM" ] && break; sleep 0.1; done
  check "the dynamoDBv2 action's item is in the table (aws dynamodb get-item)" \
    "$(json_ok "$ITEM" '.temp.N=="19.5" and .device.S=="d7"')" "got: $ITEM"
  aws_at logs create-log-group --log-group-name "/iot/$RUN" > /dev/null
  LOGS="$(jq -n --arg g "/iot/$RUN" --arg r "$ROLE" '[{cloudwatchLogs: {logGroupName: $g, roleArn: $r}},
    {cloudwatchLogs: {logGroupName: $g, batchMode: true, roleArn: $r}}]')"
  rule "cwl_$RUN" "SELECT * FROM 'cwl$RUN'" "$LOGS" > /dev/null
  NOW_MS="$(date +%s%3N)"
  mosquitto_pub "${TLS[@]}" -i "l-$RUN" -q 1 -t "cwl$RUN" -m "[{\"timestamp\":$NOW_MS,\"message\":\"booted\"}]"
  EVENTS=""; for _ in $(seq 50); do
    EVENTS="$(aws_at logs filter-log-events --log-group-name "/iot/$RUN" | jq -c '[.events[].message] | sort')"
    [ "$(echo "$EVENTS" | jq length 2>/dev/null)" = 2 ] && break; sleep 0.1; done
  check "cloudwatchLogs puts the message, and with batchMode each element, as log events (aws logs filter-log-events)" \
    "$(json_ok "$EVENTS" '(.[0]|startswith("[{")) and .[1]=="booted"')" "got: $EVENTS"
fi

echo "-- lifecycle"
iot disable-topic-rule --rule-name "hot_$RUN"
check "disable-topic-rule" "$(json_ok "$(iot get-topic-rule --rule-name "hot_$RUN")" '.rule.ruleDisabled==true')"
iot delete-topic-rule --rule-name "hot_$RUN"
ERR="$(iot get-topic-rule --rule-name "hot_$RUN" 2>&1)"
check "a deleted rule is gone" "$([[ "$ERR" == *Exception* ]] && echo 1 || echo 0)" "$ERR"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
