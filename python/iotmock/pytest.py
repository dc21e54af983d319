"""pytest fixtures for iotmock (registered through the `pytest11` entry point):

* ``iotmock``: one mock for the whole test session.
* ``iotmock_fresh``: a new mock (empty state) for one test.

Each is an :class:`iotmock.Mock` with ``endpoint_url``, ``mqtt_host``, ``mqtt_port``,
``port_443``, ``https_port``, ``root_ca_path``, ``region``, ``client(service)``,
``create_device(thing_name)`` (whose ``mqtt()`` is a connected paho-mqtt client),
``shadow(thing)``, ``jobs``, ``logs()``, ``reset()``, ``actions(rule)`` / ``clear_actions()`` (what the
topic rules' actions did), ``wss_path()`` (a presigned path for MQTT over WebSocket on
``port_443``) and ``put_iam_policy(access_key, name, document)``.

When a test that uses a mock fails, the last lines of the mock's log are added to its report
(section "iotmock log"), so a refused device shows the mock's reason.
"""
from __future__ import annotations

import pytest

from . import Mock

#: Lines of the mock's log attached to a failing test's report.
LOG_TAIL = 40


@pytest.fixture(scope="session")
def iotmock():
    with Mock() as mock:
        yield mock


@pytest.fixture
def iotmock_fresh():
    with Mock() as mock:
        yield mock


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.passed or report.skipped:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Mock):
            report.sections.append(("iotmock log", value.logs(tail=LOG_TAIL)))
