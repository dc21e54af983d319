#!/usr/bin/env bash
# provisioning.sh -- fleet provisioning by claim and JITP, driven only by third-party clients:
# the aws CLI for templates and the CA, mosquitto_rr as the claimed device (JSON), openssl for
# a customer CA and its device certificate, and mosquitto_pub to connect with what was made.
#
# Usage:  provisioning.sh [ENDPOINT_URL] [MQTT_HOST] [MQTT_PORT]
# Last line: "N passed, M failed"; exit status 1 when M > 0.
set -u
TOOLS="aws jq curl openssl mosquitto_rr mosquitto_pub timeout"
# shellcheck source=common.bash
source "$(dirname "$0")/common.bash" "$@"
WORK="$(mktemp -d -t provisioning.XXXXXX)"; cd "$WORK" || exit 1
trap 'cd / && rm -rf "$WORK"' EXIT
RUN="$(date +%s)$$"
ROLE="arn:aws:iam::123456789012:role/provisioning"
echo "== Provisioning against $ENDPOINT and $HOST:$PORT (scratch $WORK)"
new_device "claim-$RUN"

cat > fleet.json <<'EOF'
{"Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
 "Resources": {
  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", ["meter-", {"Ref": "SerialNumber"}]]}, "AttributePayload": {"serial": {"Ref": "SerialNumber"}}}},
  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"}},
  "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}]}}}},
 "DeviceConfiguration": {"Greeting": {"Fn::Sub": "hello ${SerialNumber}"}}}
EOF

echo "-- the template through the control plane"
iot create-provisioning-template --template-name "fleet-$RUN" --template-body file://fleet.json \
  --provisioning-role-arn "$ROLE" --enabled > ct.json 2>&1
check "create-provisioning-template answers the ARN and version 1" "$(json_ok "$(cat ct.json)" --arg n "fleet-$RUN" '.templateName==$n and (.templateArn|endswith("provisioningtemplate/"+$n)) and .defaultVersionId==1')" "$(cat ct.json)"
iot describe-provisioning-template --template-name "fleet-$RUN" > dt.json 2>&1
check "describe-provisioning-template: enabled, FLEET_PROVISIONING, the body" "$(json_ok "$(cat dt.json)" '.enabled==true and .type=="FLEET_PROVISIONING" and (.templateBody|fromjson|.Resources.thing.Type=="AWS::IoT::Thing")')" "$(cat dt.json)"
iot list-provisioning-templates > lt.json 2>&1
check "list-provisioning-templates lists it" "$(json_ok "$(cat lt.json)" --arg n "fleet-$RUN" '[.templates[].templateName]|index($n)!=null')" "$(cat lt.json)"
echo '{"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "Serial"}}}}}' > bad.json
OUT="$(iot create-provisioning-template --template-name "bad-$RUN" --template-body file://bad.json --provisioning-role-arn "$ROLE" 2>&1)"
check "an invalid template is refused, naming the element" "$(echo "$OUT" | grep -q 'InvalidRequestException' && echo "$OUT" | grep -q 'Resources.t.Properties.ThingName.Ref' && echo 1 || echo 0)" "$OUT"

echo "-- a device on a claim certificate provisions itself (JSON)"
rr() { timeout 10 mosquitto_rr "${TLS[@]}" -i "claim-$RUN" -q 1 -t "$1" -e "$1/${3:-accepted}" -m "$2" -W 5 2>/dev/null; }
R="$(rr '$aws/certificates/create/json' '{}')"
check "create/json answers a certificate, its key and an ownership token" "$(json_ok "$R" '(.certificatePem|startswith("-----BEGIN CERTIFICATE")) and (.privateKey|contains("PRIVATE KEY")) and (.certificateOwnershipToken|length>0)')" "$R"
echo "$R" | jq -r .certificatePem > new.crt; echo "$R" | jq -r .privateKey > new.key
NEW_ID="$(echo "$R" | jq -r .certificateId)"
iot describe-certificate --certificate-id "$NEW_ID" > dc.json 2>&1
check "the new certificate waits in PENDING_ACTIVATION" "$(json_ok "$(cat dc.json)" '.certificateDescription.status=="PENDING_ACTIVATION"')" "$(cat dc.json)"
BODY="$(jq -nc --arg t "$(echo "$R" | jq -r .certificateOwnershipToken)" '{certificateOwnershipToken:$t, parameters:{SerialNumber:"77"}}')"
P="\$aws/provisioning-templates/fleet-$RUN/provision/json"
R2="$(rr "$P" "$BODY")"
check "provision/json answers the thing and the device configuration" "$(json_ok "$R2" '.thingName=="meter-77" and .deviceConfiguration.Greeting=="hello 77"')" "$R2"
R3="$(rr "$P" "$BODY" rejected)"
check "a used token is rejected: InvalidCertificateOwnershipToken, 400" "$(json_ok "$R3" '.errorCode=="InvalidCertificateOwnershipToken" and .statusCode==400')" "$R3"
iot describe-certificate --certificate-id "$NEW_ID" > dc2.json 2>&1
check "the certificate is ACTIVE" "$(json_ok "$(cat dc2.json)" '.certificateDescription.status=="ACTIVE"')" "$(cat dc2.json)"
iot describe-thing --thing-name meter-77 > th.json 2>&1
check "the thing exists with its attribute" "$(json_ok "$(cat th.json)" '.attributes.serial=="77"')" "$(cat th.json)"
timeout 10 mosquitto_pub --cafile AmazonRootCA1.pem --cert new.crt --key new.key -h "$HOST" -p "$PORT" \
  -i meter-77 -t "meters/77" -m up -q 1 > pub.out 2>&1; RC=$?
check "the device connects and publishes with its new certificate" "$([ $RC = 0 ] && echo 1 || echo 0)" "$(cat pub.out)"

echo "-- a device that keeps its own key: create-from-csr"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout own.key -out own.csr -subj "/CN=own-$RUN" 2>/dev/null
R4="$(rr '$aws/certificates/create-from-csr/json' "$(jq -nc --rawfile c own.csr '{certificateSigningRequest:$c}')")"
check "create-from-csr/json signs the CSR (no key in the answer) with a token" "$(json_ok "$R4" '(.certificatePem|startswith("-----BEGIN CERTIFICATE")) and (has("privateKey")|not) and (.certificateOwnershipToken|length>0)')" "$R4"
echo "$R4" | jq -r .certificatePem > own.crt
check "the certificate carries the CSR's key" "$([ "$(openssl x509 -in own.crt -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in own.key -pubout 2>/dev/null)" ] && echo 1 || echo 0)"

echo "-- JITP: a customer CA with a template; its device provisions at first connect"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
  -subj "/CN=jitp-ca-$RUN" -days 30 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
CODE="$(iot get-registration-code | jq -r .registrationCode)"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ver.key -out ver.csr -subj "/CN=$CODE" 2>/dev/null
openssl x509 -req -in ver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out ver.crt -days 30 2>/dev/null
cat > jitp.json <<'EOF'
{"Parameters": {"AWS::IoT::Certificate::CommonName": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
 "Resources": {
  "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"}}},
  "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}},
  "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"iot:Connect\",\"iot:Publish\"],\"Resource\":\"*\"}]}"}}}}
EOF
jq -n --rawfile b jitp.json --arg r "$ROLE" '{templateBody:$b, roleArn:$r}' > rc.json
iot register-ca-certificate --ca-certificate file://ca.crt --verification-cert file://ver.crt \
  --set-as-active --allow-auto-registration --registration-config file://rc.json > ca.json 2>&1
check "register-ca-certificate takes the registration config" "$(json_ok "$(cat ca.json)" '.certificateId|length==64')" "$(cat ca.json)"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout jd.key -out jd.csr -subj "/CN=jitp-$RUN" 2>/dev/null
openssl x509 -req -in jd.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out jd.crt -days 30 2>/dev/null
JTLS=(--cafile AmazonRootCA1.pem --cert jd.crt --key jd.key -h "$HOST" -p "$PORT" -i "jitp-$RUN")
timeout 10 mosquitto_pub "${JTLS[@]}" -t "jitp/$RUN" -m first -q 1 > first.out 2>&1; RC=$?
check "the first connection is closed, as AWS closes it" "$([ $RC != 0 ] && echo 1 || echo 0)" "$(cat first.out)"
iot describe-thing --thing-name "jitp-$RUN" > jt.json 2>&1
check "the template made the thing named after the certificate's CN" "$(json_ok "$(cat jt.json)" --arg n "jitp-$RUN" '.thingName==$n')" "$(cat jt.json)"
timeout 10 mosquitto_pub "${JTLS[@]}" -t "jitp/$RUN" -m second -q 1 > second.out 2>&1; RC=$?
check "the next connection is admitted" "$([ $RC = 0 ] && echo 1 || echo 0)" "$(cat second.out)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
