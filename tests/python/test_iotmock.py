"""The iotmock pytest fixture, used the way a user would: boto3 for the control plane,
paho-mqtt and the AWS IoT Device SDK v2 for devices."""
import json
import ssl
import threading
import time

import paho.mqtt.client as mqtt


def paho_client(mock, device, client_id):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=str(mock.root_ca_path), certfile=str(device.cert_path), keyfile=str(device.key_path),
              cert_reqs=ssl.CERT_REQUIRED)
    return c


def test_boto3_registers_things_and_certificates(iotmock):
    iot = iotmock.client("iot")
    iot.create_thing(thingName="boto-thing")
    names = [t["thingName"] for t in iot.list_things()["things"]]
    assert "boto-thing" in names
    keys = iot.create_keys_and_certificate(setAsActive=True)
    described = iot.describe_certificate(certificateId=keys["certificateId"])
    assert described["certificateDescription"]["status"] == "ACTIVE"


def test_a_device_publishes_and_subscribes_with_paho(iotmock):
    device = iotmock.create_device("paho-sensor")
    got = threading.Event()
    received = []

    c = paho_client(iotmock, device, "paho-sensor")

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe("sensors/paho-sensor/temp", qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        client.publish("sensors/paho-sensor/temp", "21.5", qos=1)

    def on_message(client, userdata, message):
        received.append(message.payload)
        got.set()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.connect(iotmock.mqtt_host, iotmock.mqtt_port, keepalive=30)
    c.loop_start()
    try:
        assert got.wait(10), "the message came back"
    finally:
        c.loop_stop()
        c.disconnect()
    assert received == [b"21.5"]


def test_an_inactive_certificate_is_refused(iotmock_fresh):
    device = iotmock_fresh.create_device("refused")
    iotmock_fresh.client("iot").update_certificate(certificateId=device.certificate_id, newStatus="INACTIVE")
    c = paho_client(iotmock_fresh, device, "refused")
    outcome = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["connected"] = not reason_code.is_failure
        done.set()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        outcome.setdefault("connected", False)
        done.set()

    c.on_connect, c.on_disconnect = on_connect, on_disconnect
    c.connect(iotmock_fresh.mqtt_host, iotmock_fresh.mqtt_port, keepalive=30)
    c.loop_start()
    try:
        assert done.wait(10), "the connection ended one way or the other"
    finally:
        c.loop_stop()
    assert outcome["connected"] is False, "AWS closes the connection of an inactive certificate"


def test_the_aws_iot_device_sdk_v2_connects(iotmock):
    from awscrt import mqtt as crt_mqtt
    from awsiot import mqtt_connection_builder

    device = iotmock.create_device("sdk-device")
    conn = mqtt_connection_builder.mtls_from_path(
        endpoint=iotmock.mqtt_host, port=iotmock.mqtt_port, cert_filepath=str(device.cert_path),
        pri_key_filepath=str(device.key_path), ca_filepath=str(iotmock.root_ca_path),
        client_id="sdk-device", clean_session=True, keep_alive_secs=30)
    conn.connect().result(10)
    try:
        topic = "$aws/things/sdk-device/shadow/update"
        body = json.dumps({"state": {"reported": {"on": True}}})
        conn.publish(topic=topic, payload=body, qos=crt_mqtt.QoS.AT_LEAST_ONCE)[0].result(10)
    finally:
        conn.disconnect().result(10)
    shadow = iotmock.client("iot-data").get_thing_shadow(thingName="sdk-device")
    assert json.loads(shadow["payload"].read())["state"]["reported"] == {"on": True}


def test_a_topic_rules_actions_are_read_back(iotmock_fresh):
    iot = iotmock_fresh.client("iot")
    iot.create_topic_rule(ruleName="to_queue", topicRulePayload={
        "sql": "SELECT temp FROM 'pyrules/+'",
        "actions": [{"sqs": {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                             "roleArn": "arn:aws:iam::123456789012:role/r"}}]})
    data = iotmock_fresh.client("iot-data")
    data.publish(topic="pyrules/a", qos=1, payload=b'{"temp": 30, "other": 1}')
    deadline = time.time() + 10
    while not iotmock_fresh.actions("to_queue") and time.time() < deadline:
        time.sleep(0.05)
    actions = iotmock_fresh.actions("to_queue")
    assert len(actions) == 1, actions
    assert actions[0]["payload"] == {"temp": 30}
    iotmock_fresh.clear_actions()
    assert iotmock_fresh.actions() == []


def test_paho_connects_over_websocket_with_a_presigned_path(iotmock):
    got = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="py-wss", transport="websockets")
    c.ws_set_options(path=iotmock.wss_path())
    c.tls_set(ca_certs=str(iotmock.root_ca_path))
    c.on_connect = lambda client, *a: client.subscribe("pywss/echo", qos=1)
    c.on_subscribe = lambda client, *a: client.publish("pywss/echo", "hi", qos=1)
    c.on_message = lambda *a: got.set()
    c.connect(iotmock.mqtt_host, iotmock.port_443, keepalive=30)
    c.loop_start()
    try:
        assert got.wait(10), "the message came back over WebSocket"
    finally:
        c.loop_stop()


def test_a_python_function_authorizes_paho_with_a_username_and_password():
    import base64

    from iotmock import Mock

    seen = []

    def authorize(event):
        seen.append(event)
        password = base64.b64decode(event["protocolData"]["mqtt"]["password"]).decode()
        if password != "open-sesame":
            return {"isAuthenticated": False}
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        return {"isAuthenticated": True, "principalId": "pydevice", "policyDocuments": [json.dumps(policy)],
                "refreshAfterInSeconds": 300, "disconnectAfterInSeconds": 3600}

    with Mock(functions={"py-auth": authorize}) as mock:
        iot = mock.client("iot")
        iot.create_authorizer(authorizerName="Py", signingDisabled=True,
                              authorizerFunctionArn="arn:aws:lambda:us-east-1:123456789012:function:py-auth")
        iot.set_default_authorizer(authorizerName="Py")
        outcomes = {}
        for password in ("open-sesame", "wrong"):
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"py-{password}", protocol=mqtt.MQTTv5)
            ctx = ssl.create_default_context(cafile=str(mock.root_ca_path))
            ctx.set_alpn_protocols(["mqtt"])
            c.tls_set_context(ctx)
            c.username_pw_set("pyuser", password)
            done = threading.Event()

            def on_connect(client, userdata, flags, reason_code, properties, password=password):
                outcomes[password] = reason_code.value
                done.set()

            c.on_connect = on_connect
            c.connect(mock.mqtt_host, mock.port_443, keepalive=30)
            c.loop_start()
            try:
                assert done.wait(10), f"a CONNACK for {password}"
            finally:
                c.loop_stop()
                c.disconnect()
        assert outcomes == {"open-sesame": 0, "wrong": 0x87}
        assert seen[0]["protocols"] == ["tls", "mqtt"]
        assert seen[0]["protocolData"]["mqtt"]["username"] == "pyuser"
