"""A custom authorizer's function as a webhook, for custom_auth.sh: iotmock POSTs AWS's event
to --lambda-url/NAME and reads the answer. The token (or, without one, the MQTT password,
which AWS passes base64-encoded) "allow" is let in as principal "device1" with a policy that
allows everything but publishing outside custom/; anything else is refused. Every event is
appended to EVENTS (one JSON per line).

Usage: custom_auth_hook.py PORT_FILE EVENTS
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, events = sys.argv[1:3]
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["iot:Connect", "iot:Subscribe", "iot:Receive"], "Resource": "*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/custom/*"},
]})


def token_of(event):
    if event.get("token"):
        return event["token"]
    password = event.get("protocolData", {}).get("mqtt", {}).get("password")
    return base64.b64decode(password).decode(errors="replace") if password else None


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        event = json.loads(body or b"{}")
        with open(events, "a") as f:
            f.write(json.dumps(event) + "\n")
        if token_of(event) == "allow":
            answer = {"isAuthenticated": True, "principalId": "device1", "policyDocuments": [POLICY],
                      "refreshAfterInSeconds": 300, "disconnectAfterInSeconds": 3600}
        else:
            answer = {"isAuthenticated": False}
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
