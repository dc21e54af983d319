"""The device of docs/container/compose.yaml: waits for iotmock, registers itself (thing,
certificate, policy) with boto3, then connects with paho-mqtt over mutual TLS and publishes.
Running it again against the same state (the compose volume) works too: the thing and the
policy are reused, and each run gets a new certificate."""
import json
import os
import time
import urllib.request

import boto3
import paho.mqtt.client as mqtt

url, host = os.environ["IOTMOCK_URL"], os.environ["MQTT_HOST"]
for _ in range(60):
    try:
        urllib.request.urlopen(f"{url}/iotmock/health").read()
        root = urllib.request.urlopen(f"{url}/iotmock/AmazonRootCA1.pem").read().decode()
        break
    except OSError:
        time.sleep(1)
else:
    raise SystemExit("iotmock did not come up")

iot = boto3.client("iot", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
iot.create_thing(thingName="container-device")
keys = iot.create_keys_and_certificate(setAsActive=True)
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
try:
    iot.create_policy(policyName="container-device", policyDocument=json.dumps(policy))
except iot.exceptions.ResourceAlreadyExistsException:
    pass  # a run before this one made it
iot.attach_policy(policyName="container-device", target=keys["certificateArn"])
iot.attach_thing_principal(thingName="container-device", principal=keys["certificateArn"])
for name, text in [("root.pem", root), ("cert.pem", keys["certificatePem"]),
                   ("key.pem", keys["keyPair"]["PrivateKey"])]:
    with open(f"/tmp/{name}", "w") as f:
        f.write(text)

c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="container-device")
c.tls_set(ca_certs="/tmp/root.pem", certfile="/tmp/cert.pem", keyfile="/tmp/key.pem")
c.connect(host, 8883, keepalive=30)
c.loop_start()
info = c.publish("devices/container-device/hello", "hello from a container", qos=1)
info.wait_for_publish(10)
print("published:", info.is_published(), flush=True)
c.loop_stop()
c.disconnect()
