#!/usr/bin/env bash
# jobs.sh -- AWS IoT Jobs driven only by third-party clients: the aws CLI for the control plane
# (create-thing, create-job, describe-job, cancel-job, describe-job-execution) and the mosquitto
# clients for the device (mosquitto_rr for requests, whose answers AWS sends to the requester
# alone; mosquitto_sub for notify-next). Jobs go to SUCCEEDED, FAILED and CANCELED.
#
# Usage:  jobs.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl mosquitto_rr mosquitto_sub timeout stdbuf"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t jobs.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
T="pump$RUN"
echo "== Jobs against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
new_device "jobs-$RUN"
THING_ARN="$(iot create-thing --thing-name "$T" | jq -r .thingArn)"
P="\$aws/things/$T/jobs"

wait_for() { local i; for i in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# rr TOPIC PAYLOAD [accepted|rejected] -> the answer the requester gets on TOPIC/accepted (or
# TOPIC/rejected)
rr() { timeout 10 mosquitto_rr "${TLS[@]}" -i "$T" -q 1 -t "$1" -e "$1/${3:-accepted}" -m "$2" -W 5 2>/dev/null; }
job() { echo "{\"step\":\"$1\"}" > "doc-$1.json"
  iot create-job --job-id "$1-$RUN" --targets "$THING_ARN" --document "file://doc-$1.json" > "create-$1.json" 2>&1; }

stdbuf -oL mosquitto_sub "${TLS[@]}" -i "watch-$RUN" -q 1 -v -d -t "$P/notify-next" > next.out 2>&1 &
SUB=$!
wait_for next.out SUBACK || true

echo "-- a job to SUCCEEDED"
job ok
check "create-job answers the job id and ARN" "$(json_ok "$(cat create-ok.json 2>/dev/null)" --arg j "ok-$RUN" '.jobId==$j and (.jobArn|endswith("job/"+$j))')" "$(cat create-ok.json)"
wait_for next.out "ok-$RUN"
NEXT="$(grep -o "$P/notify-next {.*" next.out | tail -1 | cut -d' ' -f2-)"
check "notify-next announces the job with its document" "$(json_ok "$NEXT" --arg j "ok-$RUN" '.execution.jobId==$j and .execution.jobDocument.step=="ok"')" "$NEXT"
R="$(rr "$P/start-next" '{"clientToken":"s1"}')"
check "start-next moves it to IN_PROGRESS (answer to the requester)" "$(json_ok "$R" '.execution.status=="IN_PROGRESS" and .execution.versionNumber==2 and .clientToken=="s1"')" "$R"
R="$(rr "$P/ok-$RUN/update" '{"status":"SUCCEEDED","expectedVersion":"2","includeJobExecutionState":true}')"
check "update to SUCCEEDED is accepted" "$(json_ok "$R" '.executionState.status=="SUCCEEDED"')" "$R"
iot describe-job --job-id "ok-$RUN" > dj.json 2>&1
check "describe-job: COMPLETED with one succeeded thing" "$(json_ok "$(cat dj.json 2>/dev/null)" '.job.status=="COMPLETED" and .job.jobProcessDetails.numberOfSucceededThings==1')" "$(cat dj.json)"
R="$(rr "$P/ok-$RUN/update" '{"status":"FAILED"}' rejected)"
check "a terminal execution refuses updates: InvalidStateTransition" "$(json_ok "$R" '.code=="InvalidStateTransition" and .executionState.status=="SUCCEEDED"')" "$R"

echo "-- a job to FAILED"
job bad
R="$(rr "$P/\$next/get" '{}')"
check "\$next/get peeks at the queued job" "$(json_ok "$R" --arg j "bad-$RUN" '.execution.jobId==$j and .execution.status=="QUEUED"')" "$R"
R="$(rr "$P/bad-$RUN/update" '{"status":"FAILED","statusDetails":{"reason":"disk full"},"includeJobExecutionState":true}')"
check "update straight to FAILED is accepted" "$(json_ok "$R" '.executionState.status=="FAILED" and .executionState.statusDetails.reason=="disk full"')" "$R"
iot describe-job-execution --job-id "bad-$RUN" --thing-name "$T" > dje.json 2>&1
check "describe-job-execution shows FAILED" "$(json_ok "$(cat dje.json 2>/dev/null)" '.execution.status=="FAILED"')" "$(cat dje.json)"

echo "-- a job to CANCELED"
job stop
R="$(rr "$P/start-next" '{}')"
iot cancel-job --job-id "stop-$RUN" --force --comment "abort" > cj.json 2>&1
check "cancel-job --force answers the job" "$(json_ok "$(cat cj.json 2>/dev/null)" --arg j "stop-$RUN" '.jobId==$j')" "$(cat cj.json)"
R="$(rr "$P/stop-$RUN/update" '{"status":"SUCCEEDED"}' rejected)"
check "the device's next update is refused: CANCELED" "$(json_ok "$R" '.code=="InvalidStateTransition" and .executionState.status=="CANCELED"')" "$R"
R="$(rr "$P/get" '{}')"
check "nothing pending remains" "$(json_ok "$R" '.inProgressJobs==[] and .queuedJobs==[]')" "$R"
kill "$SUB" 2>/dev/null

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
