"""A job-running device on the AWS IoT Device SDK v2 for Python (pip install awsiotsdk), for
`iotmock advisor run Job_Execution --device-cmd 'python3 docs/advisor-devices/sdk_jobs.py'`.
It reads the IOTMOCK_* variables the advisor sets, waits for notify-next, starts the job and
reports it SUCCEEDED."""
import os, threading
from awscrt import mqtt
from awsiot import iotjobs, mqtt_connection_builder

env = os.environ
thing = env["IOTMOCK_THING_NAME"]
conn = mqtt_connection_builder.mtls_from_path(
    endpoint=env["IOTMOCK_HOST"], port=int(env["IOTMOCK_PORT"]), cert_filepath=env["IOTMOCK_CERT_FILE"],
    pri_key_filepath=env["IOTMOCK_KEY_FILE"], ca_filepath=env["IOTMOCK_CA_FILE"],
    client_id=env["IOTMOCK_CLIENT_ID"], clean_session=True, keep_alive_secs=30)
conn.connect().result(10)
jobs = iotjobs.IotJobsClient(conn)
done = threading.Event()

def on_started(resp):
    if resp.execution is None:
        return
    req = iotjobs.UpdateJobExecutionRequest(thing_name=thing, job_id=resp.execution.job_id, status="SUCCEEDED")
    jobs.publish_update_job_execution(req, mqtt.QoS.AT_LEAST_ONCE).result(5)
    done.set()

def on_next(event):
    if event.execution is not None:
        req = iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing)
        jobs.publish_start_next_pending_job_execution(req, mqtt.QoS.AT_LEAST_ONCE)

sub = iotjobs.StartNextPendingJobExecutionSubscriptionRequest(thing_name=thing)
jobs.subscribe_to_start_next_pending_job_execution_accepted(sub, mqtt.QoS.AT_LEAST_ONCE, on_started)[0].result(5)
nxt = iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing)
jobs.subscribe_to_next_job_execution_changed_events(nxt, mqtt.QoS.AT_LEAST_ONCE, on_next)[0].result(5)
jobs.publish_start_next_pending_job_execution(iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing), mqtt.QoS.AT_LEAST_ONCE)
done.wait(30)
conn.disconnect().result(5)
