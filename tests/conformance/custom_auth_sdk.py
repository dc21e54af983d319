"""The AWS IoT Device SDK v2 for Python through a custom authorizer, for custom_auth.sh:
direct_with_custom_authorizer (MQTT on port 443 with ALPN mqtt), signed (a token and its
signature in the username) or unsigned (the default authorizer, the password). A round trip
on TOPIC; prints "PASS case" or "FAIL case | why". The builder fixes port 443; the connection
it builds is pointed at PORT (the mock's port-443 listener) before connecting.

Usage: custom_auth_sdk.py signed|unsigned HOST PORT CA_FILE TOPIC [SIGNATURE]
"""
import sys
import threading
import uuid

case, host, port, ca, topic = sys.argv[1:6]
signature = sys.argv[6] if len(sys.argv) > 6 else None
try:
    from awscrt import mqtt
    from awsiot import mqtt_connection_builder

    if case == "signed":
        auth = dict(auth_username="sdkdev", auth_authorizer_name="Signed",
                    auth_authorizer_signature=signature, auth_token_key_name="tok",
                    auth_token_value="allow")
    else:
        auth = dict(auth_username="alice", auth_password="allow")
    conn = mqtt_connection_builder.direct_with_custom_authorizer(
        endpoint=host, port=int(port), ca_filepath=ca, client_id=f"sdk-{case}-{uuid.uuid4().hex[:8]}",
        clean_session=True, keep_alive_secs=30, **auth)
    # The builder always aims a direct custom-auth connection at 443 (username, ALPN mqtt and
    # TLS are its own); only the port is moved to where the mock listens.
    conn.port = int(port)
    conn.connect().result(15)
    got = threading.Event()
    sub, _ = conn.subscribe(topic, mqtt.QoS.AT_LEAST_ONCE, callback=lambda topic, payload, **kw: got.set())
    sub.result(15)
    pub, _ = conn.publish(topic, b'{"via":"sdk-v2"}', mqtt.QoS.AT_LEAST_ONCE)
    pub.result(15)
    ok = got.wait(15)
    conn.disconnect().result(15)
    print(f"PASS {case}" if ok else f"FAIL {case} | no message back on {topic}")
except Exception as e:  # noqa: BLE001 -- the script reports, never raises
    print(f"FAIL {case} | {e!r}")
