"""A plain paho-mqtt 2.x device (pip install "paho-mqtt>=2,<3") for `iotmock advisor`.

    iotmock advisor run --suite all --set EXECUTION_TIMEOUT=20 \
        --device-cmd 'python3 docs/advisor-devices/paho_device.py'

It reads the IOTMOCK_* variables the advisor sets, connects over mutual TLS (MQTT 3.1.1,
cleanSession=0, keep-alive 30 s), subscribes at QoS 1 to IOTMOCK_TOPIC when CONNACK reports no
session, publishes "hello" at QoS 1 to it once connected and keeps running. Reconnection is
paho's own: reconnect_delay_set(1, 16) and loop_forever(retry_first_connection=True).
"""
import os

import paho.mqtt.client as mqtt

env = os.environ
topic = env["IOTMOCK_TOPIC"]


def on_connect(client, userdata, flags, reason_code, properties):
    print(f"connected: {reason_code} session_present={flags.session_present}", flush=True)
    if reason_code.is_failure:
        return
    if not flags.session_present:
        client.subscribe(topic, qos=1)
    client.publish(topic, "hello", qos=1)


def on_disconnect(client, userdata, flags, reason_code, properties):
    print(f"disconnected: {reason_code}", flush=True)


def on_message(client, userdata, message):
    print(f"received on {message.topic}: {message.payload!r}", flush=True)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=env["IOTMOCK_CLIENT_ID"],
                     clean_session=False, protocol=mqtt.MQTTv311)
client.tls_set(ca_certs=env["IOTMOCK_CA_FILE"], certfile=env["IOTMOCK_CERT_FILE"],
               keyfile=env["IOTMOCK_KEY_FILE"])
client.on_connect = on_connect
client.on_disconnect = on_disconnect
client.on_message = on_message
client.reconnect_delay_set(min_delay=1, max_delay=16)
client.connect_async(env["IOTMOCK_HOST"], int(env["IOTMOCK_PORT"]), keepalive=30)
client.loop_forever(retry_first_connection=True)
