"""Run iotmock (a local AWS IoT Core) from Python: start the `iotmock` executable this wheel
installed on free loopback ports, talk to it with boto3 and MQTT clients, stop it.

    with iotmock.Mock() as mock:
        iot = mock.client("iot")
        device = mock.create_device("sensor-1")
        client = device.mqtt()              # a connected paho-mqtt client
        mock.shadow("sensor-1").update(desired={"on": True})
        # device.cert_path, device.key_path, mock.root_ca_path, mock.mqtt_host, mock.mqtt_port
        print(mock.logs())                  # what the mock logged (refusals with their reason)
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .helpers import ConnectionRefused, Jobs, Shadow, connect_paho

__all__ = ["Mock", "Device", "ConnectionRefused", "executable"]

#: AWS region names (`us-east-1`, `us-gov-west-1`, `cn-north-1`, ...).
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Mocks still running, stopped when Python exits.
_RUNNING: "weakref.WeakSet[Mock]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for mock in list(_RUNNING):
        mock.stop()


def _die_with_parent() -> None:
    """In the child before exec: start a process group of its own, and on Linux ask the kernel
    to end the mock when the Python process that started it dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
)


def executable() -> str:
    """The iotmock executable: $IOTMOCK_BIN, else the one this wheel installed (in this
    environment's scripts directory), else the one on PATH."""
    scripts = Path(sysconfig.get_path("scripts")) / "iotmock"
    installed = str(scripts) if scripts.exists() else None
    found = os.environ.get("IOTMOCK_BIN") or installed or shutil.which("iotmock")
    if not found:
        raise RuntimeError("the iotmock executable is not on PATH (pip install iotmock, or set IOTMOCK_BIN)")
    return found


@dataclass
class Device:
    """A provisioned device: its thing, certificate and the files an MQTT client needs."""

    thing_name: str
    certificate_id: str
    certificate_arn: str
    cert_path: Path
    key_path: Path
    policy_name: str
    mock: Optional["Mock"] = field(default=None, repr=False, compare=False)

    def mqtt(self, client_id: Optional[str] = None, protocol: Optional[int] = None, timeout: float = 10.0):
        """A paho-mqtt 2 client connected as this device (loop started, closed when the mock
        stops). Raises :class:`ConnectionRefused` with the mock's reason when refused."""
        if self.mock is None:
            raise RuntimeError("this Device was not created by a Mock")
        return connect_paho(self.mock, self, client_id=client_id, protocol=protocol, timeout=timeout)


class Mock:
    """One iotmock process on free loopback ports with its own state dir."""

    def __init__(self, region: str = "us-east-1", state_dir: Optional[str] = None, timeout: float = 30.0,
                 functions: Optional[Dict[str, Callable[[dict], dict]]] = None,
                 args: Optional[list] = None):
        """`functions`: Python callables run as Lambda functions by name (custom authorizers'
        functions, the rules' `lambda` action and `aws_lambda()`): each gets the event (a dict)
        and returns the answer (a dict). More can be added to `mock.functions` later.
        `args`: more `iotmock serve` flags, e.g. ["--auto-confirm-destinations"]."""
        if not REGION.match(region):
            raise ValueError(f"{region!r} is not an AWS region name (like us-east-1)")
        self.region = region
        self.functions: Optional[Dict[str, Callable[[dict], dict]]] = (
            dict(functions) if functions is not None else None)
        self._hook = None
        self._args = list(args or [])
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="iotmock-"))
        self._timeout = timeout
        self._proc: Optional[subprocess.Popen] = None
        self.endpoint_url = ""
        self.mqtt_host = "localhost"
        self.mqtt_port = 0
        #: AWS's port 443 (ALPN x-amzn-mqtt-ca / x-amzn-http-ca; wss://localhost:port_443/mqtt).
        self.port_443 = 0
        #: AWS's 8443: HTTPS publish with a client certificate.
        self.https_port = 0
        self.root_ca_path = self.state_dir / "AmazonRootCA1.pem"
        #: Everything the mock logged (stderr), kept for :meth:`logs` and failing tests' reports.
        self.log_path = Path(tempfile.mkstemp(prefix="iotmock-", suffix=".log")[1])
        self._final_log = ""
        self._devices: Dict[str, Device] = {}
        self._clients: List[Any] = []
        self.jobs = Jobs(self)

    def start(self) -> "Mock":
        cmd = [executable(), "serve", "--api-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0",
               "--port-443-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0",
               "--state-dir", str(self.state_dir), "--region", self.region]
        cmd += self._args
        if self.functions is not None:
            self._hook = _serve_functions(self)
            cmd += ["--lambda-url", f"http://127.0.0.1:{self._hook.server_address[1]}"]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                          preexec_fn=_die_with_parent if os.name == "posix" else None)
        _RUNNING.add(self)
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(self._timeout) or not self.endpoint_url or not self.mqtt_port:
            code = self._proc.poll()
            tail = self.logs(tail=20)
            self.stop()
            how = f"exited with status {code}" if code is not None else "did not report its endpoints in time"
            raise RuntimeError(f"iotmock {how}: {' '.join(cmd)}\n{tail}")
        return self

    def logs(self, tail: Optional[int] = None) -> str:
        """What the mock has logged so far (its stderr, without colour codes); the last `tail`
        lines when given."""
        try:
            text = ANSI.sub("", self.log_path.read_text(errors="replace"))
        except OSError:
            text = self._final_log
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:])
        return text

    def refusal_reason(self, client_id: str) -> Optional[str]:
        """The last line in which the mock said why it refused or closed `client_id`."""
        lines = [l for l in self.logs().splitlines()
                 if f"client_id={client_id}" in l and ("refused" in l or "closed" in l or "denied" in l)]
        return lines[-1].strip() if lines else None

    def _read(self, ready: threading.Event) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("iotmock API:"):
                self.endpoint_url = line.split(":", 1)[1].strip()
            elif line.startswith("MQTT (mTLS):"):
                self.mqtt_port = int(line.rsplit(":", 1)[1])
            elif line.startswith("port 443:"):
                self.port_443 = int(line.split()[2].rsplit(":", 1)[1])
            elif line.startswith("HTTPS (mTLS):"):
                self.https_port = int(line.rsplit(":", 1)[1])
            if self.endpoint_url and self.mqtt_port and self.port_443 and self.https_port:
                ready.set()
        ready.set()

    def _close_clients(self) -> None:
        """Disconnects the paho clients `Device.mqtt()` handed out."""
        for client in self._clients:
            try:
                client.disconnect()
                client.loop_stop()
            except Exception:  # noqa: BLE001 -- a client already gone is fine
                pass
        self._clients.clear()

    def stop(self) -> None:
        self._close_clients()
        _RUNNING.discard(self)
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._hook is not None:
            self._hook.shutdown()
            self._hook = None
        if self.log_path.exists():
            self._final_log = self.logs()
            self.log_path.unlink()
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self._own_dir = False

    def __enter__(self) -> "Mock":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, service: str = "iot"):
        """A boto3 client for `iot`, `iot-data` or `iot-jobs-data` against this mock."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def shadow(self, thing: str, name: Optional[str] = None) -> Shadow:
        """The thing's classic shadow, or its named shadow `name`: get / update / delete /
        wait_for_reported through iot-data."""
        return Shadow(self, thing, name)

    def create_device(self, thing_name: str, policy: str = ALLOW_ALL, directory: Optional[str] = None) -> Device:
        """A thing, an ACTIVE AWS-issued certificate with `policy` attached, and its PEM files.
        Asking again for a name this mock already made a device for returns that device; a
        thing of that name made another way is refused with ValueError."""
        if thing_name in self._devices:
            return self._devices[thing_name]
        iot = self.client("iot")
        try:
            iot.describe_thing(thingName=thing_name)
        except iot.exceptions.ResourceNotFoundException:
            pass
        else:
            raise ValueError(f"a thing named {thing_name} already exists and was not made by create_device; "
                             "pick another name (or mock.reset())")
        iot.create_thing(thingName=thing_name)
        keys = iot.create_keys_and_certificate(setAsActive=True)
        policy_name = f"{thing_name}-policy"
        iot.create_policy(policyName=policy_name, policyDocument=policy)
        iot.attach_policy(policyName=policy_name, target=keys["certificateArn"])
        iot.attach_thing_principal(thingName=thing_name, principal=keys["certificateArn"])
        folder = Path(directory or self.state_dir / "devices" / thing_name)
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / "device.pem.crt", folder / "private.pem.key"
        cert.write_text(keys["certificatePem"])
        key.write_text(keys["keyPair"]["PrivateKey"])
        device = Device(thing_name, keys["certificateId"], keys["certificateArn"], cert, key, policy_name, self)
        self._devices[thing_name] = device
        return device


def _call(mock: "Mock", method: str, path: str, body: Optional[bytes] = None) -> dict:
    """One request to the mock's own endpoints (`/iotmock/...`); the JSON answer."""
    import urllib.request

    request = urllib.request.Request(mock.endpoint_url + path, data=body, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


def _actions(self: "Mock", rule: Optional[str] = None) -> list:
    """What the topic rules' actions that do not leave the mock did (or would have sent),
    oldest first: `[{"rule", "action", "parameters", "payload", "topic", ...}]`, for `rule` only
    when given."""
    from urllib.parse import quote

    query = f"?rule={quote(rule)}" if rule else ""
    return _call(self, "GET", "/iotmock/actions" + query)["actions"]


def _clear_actions(self: "Mock") -> None:
    """Forgets the recorded actions."""
    _call(self, "DELETE", "/iotmock/actions")


def _wss_path(self: "Mock", access_key: str = "AKIDIOTMOCKPY", secret_key: str = "iotmock",
              session_token: Optional[str] = None, expires: int = 3600) -> str:
    """A `/mqtt?X-Amz-...` path for MQTT over WebSocket on `port_443`, presigned with botocore
    as the AWS SDKs do (for paho: `client.ws_set_options(path=mock.wss_path())`, then
    `client.connect(mock.mqtt_host, mock.port_443)` with `transport="websockets"`)."""
    from urllib.parse import quote

    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=f"wss://{self.mqtt_host}:{self.port_443}/mqtt")
    SigV4QueryAuth(Credentials(access_key, secret_key), "iotdevicegateway", self.region,
                   expires=expires).add_auth(request)
    url = request.url
    if session_token:
        url += "&X-Amz-Security-Token=" + quote(session_token, safe="")
    return url[url.index("/mqtt"):]


def _put_iam_policy(self: "Mock", access_key: str, policy_name: str, document) -> dict:
    """Sets an IAM policy of `access_key` (a dict or JSON text): what its SigV4 callers
    (MQTT over WebSocket, signed iot-data publishes) may do. Without one, everything."""
    text = document if isinstance(document, str) else json.dumps(document)
    path = f"/iotmock/iam/access-keys/{access_key}/policies/{policy_name}"
    return _call(self, "PUT", path, text.encode())


def _reset(self: "Mock") -> dict:
    """Empties every store of the mock without a restart (`POST /iotmock/reset`): things,
    certificates, policies, shadows, jobs, rules, retained messages and sessions go, and every
    connection is closed. The root CA, the ports and the process stay."""
    self._close_clients()
    self._devices.clear()
    return _call(self, "POST", "/iotmock/reset", b"{}")


Mock.reset = _reset
Mock.actions = _actions
Mock.clear_actions = _clear_actions
Mock.wss_path = _wss_path
Mock.put_iam_policy = _put_iam_policy


def _serve_functions(mock: "Mock"):
    """A webhook on a free loopback port that runs `mock.functions[NAME]` for `POST /NAME`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            name = self.path.strip("/").split("/")[-1]
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            function = (mock.functions or {}).get(name)
            try:
                if function is None:
                    raise LookupError(f"no Python function named {name}")
                status, out = 200, json.dumps(function(json.loads(body or b"{}"))).encode()
            except Exception as e:  # noqa: BLE001 -- the function's failure is its answer
                status, out = 500, json.dumps({"errorMessage": repr(e)}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
