"""The helpers of the pytest plugin, as a user calls them: a connected paho client for a
device, shadows, jobs, the mock's log, and the failures that say why."""
import json
import threading

import pytest

from iotmock import ConnectionRefused, Mock

pytest_plugins = ["pytester"]


def test_device_mqtt_is_connected_and_closed_with_the_mock():
    with Mock() as mock:
        device = mock.create_device("helper-lamp")
        assert mock.create_device("helper-lamp") is device, "the same name gives the same device"
        client = device.mqtt()
        got = threading.Event()
        client.on_message = lambda *a: got.set()
        client.subscribe("helper/echo", qos=1)
        client.publish("helper/echo", "hi", qos=1)
        assert got.wait(10), "the message came back"
    assert not client.is_connected(), "stopping the mock closed the client"


def test_a_thing_made_another_way_is_not_taken_over(iotmock_fresh):
    iotmock_fresh.client("iot").create_thing(thingName="made-by-hand")
    with pytest.raises(ValueError, match="made-by-hand"):
        iotmock_fresh.create_device("made-by-hand")


def test_shadow_helpers_follow_what_the_device_reports(iotmock):
    device = iotmock.create_device("helper-thermo")
    shadow = iotmock.shadow("helper-thermo")
    assert shadow.get() is None
    shadow.update(desired={"temp": 21})
    client = device.mqtt()
    client.publish("$aws/things/helper-thermo/shadow/update",
                   json.dumps({"state": {"reported": {"temp": 21}}}), qos=1)
    assert shadow.wait_for_reported({"temp": 21})["temp"] == 21
    named = iotmock.shadow("helper-thermo", "config")
    named.update(reported={"mode": "eco"})
    assert named.reported() == {"mode": "eco"}


def test_jobs_helpers_create_and_follow_an_execution(iotmock):
    device = iotmock.create_device("helper-pump")
    iotmock.jobs.create("helper-job", ["helper-pump"], {"op": "reboot"})
    client = device.mqtt()
    client.publish("$aws/things/helper-pump/jobs/helper-job/update", json.dumps({"status": "SUCCEEDED"}), qos=1)
    execution = iotmock.jobs.wait_for_status("helper-pump", "helper-job", "SUCCEEDED")
    assert execution["thingArn"].endswith("thing/helper-pump")
    assert iotmock.jobs.describe("helper-job")["status"] == "COMPLETED"


def test_a_refused_device_says_the_mocks_reason(iotmock_fresh):
    device = iotmock_fresh.create_device("helper-off")
    iot = iotmock_fresh.client("iot")
    iot.update_certificate(certificateId=device.certificate_id, newStatus="INACTIVE")
    with pytest.raises(ConnectionRefused) as refused:
        device.mqtt()
    assert "INACTIVE" in str(refused.value), str(refused.value)
    assert "helper-off" in iotmock_fresh.logs()


def test_bad_regions_and_executables_that_exit_are_explained(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="not an AWS region"):
        Mock(region="mars")
    broken = tmp_path / "iotmock"
    broken.write_text("#!/bin/sh\necho 'cannot start: no such flag' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("IOTMOCK_BIN", str(broken))
    with pytest.raises(RuntimeError) as failed:
        Mock(timeout=5).start()
    assert "exited with status 3" in str(failed.value)
    assert "cannot start" in str(failed.value)


def test_a_failing_test_carries_the_mocks_log(pytester):
    pytester.makepyfile("""
        def test_fails(iotmock_fresh):
            iotmock_fresh.create_device("in-report")
            assert False, "on purpose"
    """)
    from importlib.metadata import entry_points

    installed = any(ep.name == "iotmock" for ep in entry_points().select(group="pytest11"))
    args = [] if installed else ["-p", "iotmock.pytest"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*iotmock log*"])


def test_reset_empties_the_mock_without_a_restart(iotmock_fresh):
    device = iotmock_fresh.create_device("reset-lamp")
    device.mqtt()
    iotmock_fresh.shadow("reset-lamp").update(desired={"on": True})
    port = iotmock_fresh.mqtt_port
    done = iotmock_fresh.reset()
    assert done["reset"] is True
    iot = iotmock_fresh.client("iot")
    assert iot.list_things()["things"] == []
    assert iot.list_certificates()["certificates"] == []
    assert iotmock_fresh.shadow("reset-lamp").get() is None
    again = iotmock_fresh.create_device("reset-lamp")
    again.mqtt()
    assert iotmock_fresh.mqtt_port == port
