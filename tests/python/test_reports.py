"""The advisor's JUnit report, as CI servers read it: a run with a passing and a failing case
against the reference device, validated against the JUnit schema in fixtures/junit/junit.xsd
(xmlschema), with the failing case's evidence in its <failure> body."""
import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from iotmock import executable

xmlschema = pytest.importorskip("xmlschema")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(ROOT, "fixtures", "junit", "junit.xsd")
POLICY = os.path.join(ROOT, "fixtures", "policies", "reference-device.json")


def test_the_advisors_junit_is_valid_and_says_why_a_case_failed(tmp_path):
    out = tmp_path / "advisor.xml"
    binary = executable()
    run = subprocess.run(
        [binary, "advisor", "run", "TLS_Connect", "TLS_Unsecure_Server_Cert", "--policy", POLICY,
         "--device-cmd", f"{binary} reference-device --accept-unknown-ca", "--junit", str(out)],
        capture_output=True, text=True, timeout=300)
    assert out.exists(), run.stderr[-2000:]
    xmlschema.XMLSchema(SCHEMA).validate(str(out))
    root = ET.parse(out).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"TLS_Connect", "TLS_Unsecure_Server_Cert"}
    assert cases["TLS_Connect"].find("failure") is None
    failure = cases["TLS_Unsecure_Server_Cert"].find("failure")
    assert failure is not None and failure.text, "the failure carries the evidence timeline"
    assert float(cases["TLS_Connect"].get("time")) > 0
