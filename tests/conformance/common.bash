# Shared by the conformance scripts here (sourced, not run): endpoints from the arguments,
# dummy AWS credentials, the aws CLI wrappers, the PASS/FAIL counter, and the tool check.
# Usage in a script:  TOOLS="aws jq ..."; source "$(dirname "$0")/common.bash" "$@"
ENDPOINT="${1:-${ENDPOINT_URL:-http://127.0.0.1:4580}}"
HOST="${2:-${MQTT_HOST:-localhost}}"
PORT="${3:-${MQTT_PORT:-8883}}"
REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION="$REGION" AWS_PAGER=""
export AWS_MAX_ATTEMPTS=1 AWS_EC2_METADATA_DISABLED=true
iot()  { aws --endpoint-url "$ENDPOINT" --region "$REGION" --output json iot "$@"; }
data() { aws --endpoint-url "$ENDPOINT" --region "$REGION" --output json iot-data "$@"; }
PASS=0; FAIL=0
check() { if [ "$2" = 1 ]; then PASS=$((PASS+1)); echo "PASS  $1"; else FAIL=$((FAIL+1)); echo "FAIL  $1"; [ -n "${3:-}" ] && echo "      | $3"; fi; }
# json_ok JSON [jq args...] FILTER -> 1 when JSON is a non-empty document the filter holds for
json_ok() { local doc="$1"; shift
  if [ -n "$doc" ] && echo "$doc" | jq -e "$@" >/dev/null 2>&1; then echo 1; else echo 0; fi; }
for t in ${TOOLS:-aws jq curl}; do
  command -v "$t" >/dev/null || { echo "missing tool: $t"; echo "0 passed, 1 failed"; exit 1; }
done
# new_device NAME: the mock's trust anchor, an AWS-issued device certificate (dev.crt, dev.key)
# with an allow-all policy named NAME, and TLS=(...) mosquitto flags for it; in the current dir.
new_device() {
  curl -sf "$ENDPOINT/iotmock/AmazonRootCA1.pem" -o AmazonRootCA1.pem
  iot create-keys-and-certificate --set-as-active > dev.json
  jq -r .certificatePem dev.json > dev.crt; jq -r .keyPair.PrivateKey dev.json > dev.key
  iot create-policy --policy-name "$1" --policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}' > /dev/null
  iot attach-policy --policy-name "$1" --target "$(jq -r .certificateArn dev.json)"
  TLS=(--cafile AmazonRootCA1.pem --cert dev.crt --key dev.key -h "$HOST" -p "$PORT")
}
