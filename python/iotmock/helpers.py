"""Helpers a test reaches for after the mock is up: a connected paho-mqtt client for a device,
a thing's shadow, and jobs. Each talks to the mock only through AWS's own interfaces (MQTT over
mutual TLS, the iot-data and iot APIs), as the device and the backend under test would."""
from __future__ import annotations

import json
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from . import Device, Mock


class ConnectionRefused(RuntimeError):
    """The broker refused or closed the connection; the message carries the mock's reason when
    its log has one."""


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Polls `predicate` until it returns something truthy, or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def connect_paho(mock: "Mock", device: "Device", client_id: Optional[str] = None, protocol: Optional[int] = None,
                 timeout: float = 10.0, keepalive: int = 30):
    """A paho-mqtt 2 client connected as `device` (mutual TLS with its certificate, the mock's
    root as trust anchor), its network loop started. `mock.stop()` disconnects it; so does
    `client.disconnect()`. Raises :class:`ConnectionRefused` with the mock's reason."""
    import paho.mqtt.client as mqtt

    client_id = client_id or device.thing_name
    version = protocol if protocol is not None else mqtt.MQTTv311
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)
    c.tls_set(ca_certs=str(mock.root_ca_path), certfile=str(device.cert_path), keyfile=str(device.key_path),
              cert_reqs=ssl.CERT_REQUIRED)
    outcome: Dict[str, Any] = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["code"] = reason_code
        done.set()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        outcome.setdefault("closed", reason_code)
        done.set()

    c.on_connect, c.on_disconnect = on_connect, on_disconnect
    c.connect(mock.mqtt_host, mock.mqtt_port, keepalive=keepalive)
    c.loop_start()
    if not done.wait(timeout) or "code" not in outcome or outcome["code"].is_failure:
        c.loop_stop()
        why = mock.refusal_reason(client_id) or "no reason in the mock's log"
        raise ConnectionRefused(f"{client_id} was not admitted ({outcome or 'no answer'}): {why}")
    c.on_connect = c.on_disconnect = None
    mock._clients.append(c)
    return c


class Shadow:
    """A thing's classic or named shadow through iot-data (GetThingShadow, UpdateThingShadow,
    DeleteThingShadow), as a backend reads and writes it."""

    def __init__(self, mock: "Mock", thing: str, name: Optional[str] = None):
        self.mock, self.thing, self.name = mock, thing, name
        self._data = mock.client("iot-data")

    def _named(self) -> dict:
        return {"thingName": self.thing, **({"shadowName": self.name} if self.name else {})}

    def get(self) -> Optional[dict]:
        """The shadow document, or None when there is none."""
        try:
            answer = self._data.get_thing_shadow(**self._named())
        except self._data.exceptions.ResourceNotFoundException:
            return None
        return json.loads(answer["payload"].read())

    def update(self, desired: Optional[dict] = None, reported: Optional[dict] = None) -> dict:
        """Merges `desired` and `reported` into the shadow; the accepted document."""
        state: Dict[str, Any] = {}
        if desired is not None:
            state["desired"] = desired
        if reported is not None:
            state["reported"] = reported
        body = json.dumps({"state": state}).encode()
        return json.loads(self._data.update_thing_shadow(payload=body, **self._named())["payload"].read())

    def delete(self) -> None:
        self._data.delete_thing_shadow(**self._named())

    def reported(self) -> dict:
        doc = self.get() or {}
        return doc.get("state", {}).get("reported", {})

    def wait_for_reported(self, expected: dict, timeout: float = 10.0) -> dict:
        """Waits until every key of `expected` is reported with its value; the reported state."""
        def matches():
            now = self.reported()
            return now if all(now.get(k) == v for k, v in expected.items()) else None

        return _wait(matches, timeout, f"{self.thing}'s shadow to report {expected}")


class Jobs:
    """Jobs through the iot API, as a backend creates and follows them."""

    def __init__(self, mock: "Mock"):
        self.mock = mock

    @property
    def _iot(self):
        return self.mock.client("iot")

    def _thing_arn(self, thing: str) -> str:
        return self._iot.describe_thing(thingName=thing)["thingArn"]

    def create(self, job_id: str, things: List[str], document: Any, **options) -> dict:
        """CreateJob for `things` (names); `document` a dict or JSON text; `options` any other
        CreateJob parameter (timeoutConfig, jobExecutionsRetryConfig, ...)."""
        text = document if isinstance(document, str) else json.dumps(document)
        targets = [self._thing_arn(t) for t in things]
        return self._iot.create_job(jobId=job_id, targets=targets, document=text, **options)

    def describe(self, job_id: str) -> dict:
        return self._iot.describe_job(jobId=job_id)["job"]

    def execution(self, thing: str, job_id: str) -> dict:
        return self._iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]

    def wait_for_status(self, thing: str, job_id: str, status: str, timeout: float = 10.0) -> dict:
        """Waits until the thing's execution of the job has `status`; the execution."""
        def reached():
            e = self.execution(thing, job_id)
            return e if e["status"] == status else None

        return _wait(reached, timeout, f"{thing}'s execution of {job_id} to be {status}")

    def cancel(self, job_id: str, force: bool = False) -> None:
        self._iot.cancel_job(jobId=job_id, force=force)
