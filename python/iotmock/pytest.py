"""pytest fixtures for iotmock (registered through the `pytest11` entry point):

* ``iotmock``: one mock for the whole test session.
* ``iotmock_fresh``: a new mock (empty state) for one test.

Each is an :class:`iotmock.Mock` with ``endpoint_url``, ``mqtt_host``, ``mqtt_port``,
``port_443``, ``https_port``, ``root_ca_path``, ``region``, ``client(service)``,
``create_device(thing_name)``, ``actions(rule)`` / ``clear_actions()`` (what the topic rules'
actions did), ``wss_path()`` (a presigned path for MQTT over WebSocket on ``port_443``) and
``put_iam_policy(access_key, name, document)``.
"""
from __future__ import annotations

import pytest

from . import Mock


@pytest.fixture(scope="session")
def iotmock():
    with Mock() as mock:
        yield mock


@pytest.fixture
def iotmock_fresh():
    with Mock() as mock:
        yield mock
