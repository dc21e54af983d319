#!/usr/bin/env bash
# keys.sh -- key and algorithm rules at registration, with third-party clients only: openssl
# makes device certificates (RSA-1024, RSA-2048, P-256, P-384, P-521), the aws CLI registers
# them (register-certificate-without-ca) and asks test-authorization, and mosquitto_pub
# connects with each over TLS 1.2 and 1.3 (OpenSSL may sign with a P-384 key and SHA-256 under
# TLS 1.2, which AWS accepts). Then a certificate transfer to a second account of the same mock
# (the aws CLI with the account id as its access key id) and back, and the device connects again.
#
# Usage:  keys.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl openssl mosquitto_pub timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t keys.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
echo "== Key rules against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
curl -sf "$ENDPOINT/iotmock/AmazonRootCA1.pem" -o AmazonRootCA1.pem
iot create-policy --policy-name "keys-$RUN" --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"},{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/secret/*"}]}' > /dev/null

# mint NAME KEYSPEC...: a self-signed device certificate NAME.crt / NAME.key
mint() { local n="$1"; shift
  openssl req -x509 -newkey "$@" -nodes -keyout "$n.key" -out "$n.crt" -subj "/CN=$n-$RUN" -days 30 2>/dev/null; }

mint rsa1024 rsa:1024
OUT="$(iot register-certificate-without-ca --certificate-pem file://rsa1024.crt --status ACTIVE 2>&1)"
check "an RSA-1024 certificate is refused: CertificateValidationException" "$(echo "$OUT" | grep -q CertificateValidationException && echo 1 || echo 0)" "$OUT"

for spec in "rsa2048 rsa:2048" "p256 ec -pkeyopt ec_paramgen_curve:P-256" "p384 ec -pkeyopt ec_paramgen_curve:P-384" "p521 ec -pkeyopt ec_paramgen_curve:P-521"; do
  read -r name keyspec <<< "$spec"
  # shellcheck disable=SC2086
  mint "$name" $keyspec
  iot register-certificate-without-ca --certificate-pem "file://$name.crt" --status ACTIVE > "$name.json" 2>&1
  ARN="$(jq -r .certificateArn "$name.json" 2>/dev/null)"
  check "$name registers" "$([ -n "$ARN" ] && [ "$ARN" != null ] && echo 1 || echo 0)" "$(cat "$name.json")"
  iot attach-policy --policy-name "keys-$RUN" --target "$ARN" > /dev/null 2>&1
  for v in tlsv1.2 tlsv1.3; do
    timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert "$name.crt" --key "$name.key" -h "$HOST" -p "$PORT" \
      --tls-version "$v" -i "$name-$v-$RUN" -t "keys/$name" -m up -q 1 > "$name-$v.out" 2>&1; RC=$?
    check "$name connects and publishes over $v" "$([ $RC = 0 ] && echo 1 || echo 0)" "$(cat "$name-$v.out")"
  done
done

echo "-- test-authorization answers what the broker does"
ARN="$(jq -r .certificateArn p384.json)"
iot test-authorization --principal "$ARN" --client-id "p384-tlsv1.2-$RUN" --auth-infos \
  "actionType=PUBLISH,resources=arn:aws:iot:$REGION:123456789012:topic/keys/p384" \
  "actionType=PUBLISH,resources=arn:aws:iot:$REGION:123456789012:topic/secret/x" > ta.json 2>&1
check "test-authorization: ALLOWED, then EXPLICIT_DENY naming the policy" "$(json_ok "$(cat ta.json)" --arg p "keys-$RUN" '[.authResults[].authDecision]==["ALLOWED","EXPLICIT_DENY"] and .authResults[1].denied.explicitDeny.policies[0].policyName==$p')" "$(cat ta.json)"
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert p384.crt --key p384.key -h "$HOST" -p "$PORT" \
  -V mqttv5 -i "p384-deny-$RUN" -t "secret/x" -m no -q 1 > deny.out 2>&1; RC=$?
check "the broker refuses the publish test-authorization denies (PUBACK: not authorized)" "$({ [ $RC != 0 ] || grep -qi 'not authorized' deny.out; } && echo 1 || echo 0)" "$(cat deny.out)"
iot get-effective-policies --principal "$ARN" > ep.json 2>&1
check "get-effective-policies lists the policy with its document" "$(json_ok "$(cat ep.json)" --arg p "keys-$RUN" '.effectivePolicies[0].policyName==$p and (.effectivePolicies[0].policyDocument|fromjson|.Statement|length==2)')" "$(cat ep.json)"

echo "-- certificate transfer to a second account and back"
OTHER=111122223333
other() { AWS_ACCESS_KEY_ID=$OTHER iot "$@"; }
ID="$(jq -r .certificateId p256.json)"; ARN="$(jq -r .certificateArn p256.json)"
OUT="$(iot transfer-certificate --certificate-id "$ID" --target-aws-account $OTHER 2>&1)"
check "an ACTIVE certificate is not transferred: CertificateStateException" "$(echo "$OUT" | grep -q CertificateStateException && echo 1 || echo 0)" "$OUT"
iot update-certificate --certificate-id "$ID" --new-status INACTIVE
OUT="$(iot transfer-certificate --certificate-id "$ID" --target-aws-account $OTHER 2>&1)"
check "a certificate with a policy is not transferred: TransferConflictException" "$(echo "$OUT" | grep -q TransferConflictException && echo 1 || echo 0)" "$OUT"
iot detach-policy --policy-name "keys-$RUN" --target "$ARN"
OUT="$(iot transfer-certificate --certificate-id "$ID" --target-aws-account $OTHER --transfer-message hello 2>&1)"
check "transfer-certificate answers the certificate's ARN" "$(json_ok "$OUT" --arg a "$ARN" '.transferredCertificateArn==$a')" "$OUT"
OUT="$(iot describe-certificate --certificate-id "$ID" 2>&1)"
check "the certificate is PENDING_TRANSFER with its message" "$(json_ok "$OUT" '.certificateDescription.status=="PENDING_TRANSFER" and .certificateDescription.transferData.transferMessage=="hello"')" "$OUT"
other accept-certificate-transfer --certificate-id "$ID" --set-as-active > accept.out 2>&1
OUT="$(other describe-certificate --certificate-id "$ID" 2>&1)"
check "the second account accepted it: ACTIVE, owned by $OTHER, previously by the first" "$(json_ok "$OUT" --arg o $OTHER '.certificateDescription|.status=="ACTIVE" and .ownedBy==$o and .previousOwnedBy=="123456789012"')" "$OUT $(cat accept.out)"
OUT="$(iot cancel-certificate-transfer --certificate-id "$ID" 2>&1)"
check "cancelling an accepted transfer: TransferAlreadyCompletedException" "$(echo "$OUT" | grep -q TransferAlreadyCompletedException && echo 1 || echo 0)" "$OUT"
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert p256.crt --key p256.key -h "$HOST" -p "$PORT" \
  -i "p256-away-$RUN" -t keys/p256 -m away -q 1 > away.out 2>&1; RC=$?
check "while it belongs to the second account the device is refused" "$([ $RC != 0 ] && echo 1 || echo 0)" "$(cat away.out)"
other update-certificate --certificate-id "$ID" --new-status INACTIVE
other transfer-certificate --certificate-id "$ID" --target-aws-account 123456789012 > /dev/null
iot reject-certificate-transfer --certificate-id "$ID" --reject-reason "not yet" > /dev/null 2>&1
OUT="$(other describe-certificate --certificate-id "$ID" 2>&1)"
check "a rejected transfer returns it INACTIVE with the reason" "$(json_ok "$OUT" '.certificateDescription|.status=="INACTIVE" and .transferData.rejectReason=="not yet"')" "$OUT"
other transfer-certificate --certificate-id "$ID" --target-aws-account 123456789012 > /dev/null
iot accept-certificate-transfer --certificate-id "$ID" --set-as-active > /dev/null 2>&1
iot attach-policy --policy-name "keys-$RUN" --target "$ARN" > /dev/null 2>&1
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert p256.crt --key p256.key -h "$HOST" -p "$PORT" \
  -i "p256-home-$RUN" -t keys/p256 -m home -q 1 > home.out 2>&1; RC=$?
check "back home and ACTIVE, the device connects and publishes" "$([ $RC = 0 ] && echo 1 || echo 0)" "$(cat home.out)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
