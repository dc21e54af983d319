"""Third-party clients through iotmock's port-443 door, for doors.sh: paho-mqtt over
websockets with a URL presigned by botocore, and the AWS IoT Device SDK v2 for Python
(websockets_with_default_aws_signing). Each case prints "PASS name" or "FAIL name | why".

Usage: doors_clients.py CASE HOST PORT443 REGION CA_FILE TOPIC
  CASE: paho-presigned | paho-token | sdk-v2 | paho-expired
"""
import sys
import threading
import time
import uuid

case, host, port, region, ca, topic = sys.argv[1:7]
port = int(port)


def presigned_path(expires=3600, token=None):
    """The /mqtt URL as the AWS SDKs build it: SigV4 query auth for iotdevicegateway, the
    session token appended after signing."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials("AKIDCONFORMANCE", "secret")
    request = AWSRequest(method="GET", url=f"wss://{host}:{port}/mqtt")
    SigV4QueryAuth(creds, "iotdevicegateway", region, expires=expires).add_auth(request)
    url = request.url
    if token:
        from urllib.parse import quote
        url += "&X-Amz-Security-Token=" + quote(token, safe="")
    return url[url.index("/mqtt"):]


def signed_hours_ago(path, hours):
    """The same URL with its X-Amz-Date moved `hours` back (its signature no longer holds;
    the mock, which does not verify by default, judges the time)."""
    import datetime
    import re
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    stamp = old.strftime("%Y%m%dT%H%M%SZ")
    path = re.sub(r"X-Amz-Date=\d{8}T\d{6}Z", f"X-Amz-Date={stamp}", path)
    return re.sub(r"(X-Amz-Credential=[^&]*?%2F)\d{8}(%2F)", rf"\g<1>{stamp[:8]}\g<2>", path)


def paho(path, client_id):
    """Connects with paho over websockets; returns (client, connect reason code or error)."""
    import paho.mqtt.client as mqtt

    done = threading.Event()
    result = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, transport="websockets")
    client.ws_set_options(path=path)
    client.tls_set(ca_certs=ca)
    got = []

    def on_connect(c, userdata, flags, rc, props=None):
        result["rc"] = rc
        done.set()

    def on_message(c, userdata, msg):
        got.append((msg.topic, msg.payload))

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except Exception as e:  # a refused handshake surfaces here or as a failed connect
        return None, got, f"connect raised {e!r}"
    client.loop_start()
    done.wait(10)
    if result.get("rc") is None or result["rc"].is_failure:
        client.loop_stop()
        return None, got, f"connect result {result.get('rc')}"
    return client, got, None


def roundtrip(client, got):
    sub = client.subscribe(topic, qos=1)
    time.sleep(0.5)
    info = client.publish(topic, b'{"via":"wss"}', qos=1)
    info.wait_for_publish(10)
    for _ in range(100):
        if got:
            break
        time.sleep(0.1)
    return bool(got) and got[0][1] == b'{"via":"wss"}'


def main():
    if case in ("paho-presigned", "paho-token"):
        token = "FwoGZXIvYXdzE/session+token==" if case == "paho-token" else None
        client, got, err = paho(presigned_path(token=token), f"paho-{uuid.uuid4().hex[:8]}")
        if err:
            print(f"FAIL {case} | {err}")
            return
        ok = roundtrip(client, got)
        client.disconnect()
        client.loop_stop()
        print(("PASS " if ok else "FAIL ") + case + ("" if ok else " | no message came back"))
    elif case == "paho-expired":
        path = signed_hours_ago(presigned_path(expires=60), 2)
        client, got, err = paho(path, "paho-expired")
        if client is None:
            print(f"PASS {case}")
        else:
            client.disconnect()
            print(f"FAIL {case} | an expired URL was admitted")
    elif case == "sdk-v2":
        from awscrt import auth, mqtt
        from awsiot import mqtt_connection_builder

        provider = auth.AwsCredentialsProvider.new_static("AKIDCONFORMANCE", "secret", "token")
        conn = mqtt_connection_builder.websockets_with_default_aws_signing(
            endpoint=host, port=port, region=region, credentials_provider=provider,
            ca_filepath=ca, client_id=f"sdkv2-{uuid.uuid4().hex[:8]}", clean_session=True,
            keep_alive_secs=30)
        try:
            conn.connect().result(10)
        except Exception as e:
            print(f"FAIL {case} | connect: {e!r}")
            return
        got = []
        ready = threading.Event()

        def on_message(topic, payload, **kwargs):
            got.append(payload)
            ready.set()

        sub, _ = conn.subscribe(topic=topic, qos=mqtt.QoS.AT_LEAST_ONCE, callback=on_message)
        sub.result(10)
        pub, _ = conn.publish(topic=topic, payload=b'{"via":"sdk"}', qos=mqtt.QoS.AT_LEAST_ONCE)
        pub.result(10)
        ready.wait(10)
        conn.disconnect().result(10)
        ok = got == [b'{"via":"sdk"}']
        print(("PASS " if ok else "FAIL ") + case + ("" if ok else f" | got {got}"))
    else:
        print(f"FAIL {case} | unknown case")


main()
