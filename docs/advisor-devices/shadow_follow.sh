#!/bin/sh
# A shell device for Shadow_Update_Reported_State: waits for one shadow delta on the classic
# shadow and reports its state back (mosquitto clients and jq).
T="--cafile $IOTMOCK_CA_FILE --cert $IOTMOCK_CERT_FILE --key $IOTMOCK_KEY_FILE -h $IOTMOCK_HOST -p $IOTMOCK_PORT"
SHADOW="\$aws/things/$IOTMOCK_THING_NAME/shadow"
# shellcheck disable=SC2086
mosquitto_sub $T -i "$IOTMOCK_CLIENT_ID" -q 1 -C 1 -t "$SHADOW/update/delta" \
  | jq -c --unbuffered '{state: {reported: .state}}' \
  | mosquitto_pub $T -i "$IOTMOCK_CLIENT_ID-report" -t "$SHADOW/update" -q 1 -l
