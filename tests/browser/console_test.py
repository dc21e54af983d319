"""The console in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): a device connects and appears; a refused device appears with the statement that
denied it; a message published by mosquitto_pub reaches the test client within 1 s; a desired
edit reaches a subscribed device as a delta; no page logs a console error. Screenshots of
every page go to ARTIFACTS.

Usage: python console_test.py API_URL MQTT_PORT ARTIFACTS   (a mock started with the console on)
"""

import json
import os
import queue
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import paho.mqtt.client as mqtt
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

API, PORT, ARTIFACTS = sys.argv[1], int(sys.argv[2]), sys.argv[3]
WORK = tempfile.mkdtemp(prefix="iotmock-console-")
RUN = str(int(time.time()))
THING = f"console-thing-{RUN}"
REFUSED = f"refused-{RUN}"
failed = []
passed = []


def check(name, ok, detail=""):
    print(("PASS  " if ok else "FAIL  ") + name + ("" if ok else f": {detail}"))
    (passed if ok else failed).append(name)


def iot():
    return boto3.client("iot", endpoint_url=API, region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")


def device_files(client, name, policy):
    cert = client.create_keys_and_certificate(setAsActive=True)
    client.attach_policy(policyName=policy, target=cert["certificateArn"])
    paths = {}
    for kind, text in (("cert", cert["certificatePem"]), ("key", cert["keyPair"]["PrivateKey"])):
        paths[kind] = os.path.join(WORK, f"{name}.{kind}.pem")
        with open(paths[kind], "w") as f:
            f.write(text)
    return cert, paths


def setup():
    client = iot()
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:*", "Resource": "*"},
        {"Sid": "NoRefused", "Effect": "Deny", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/refused-*"}]}
    client.create_policy(policyName=f"console-allow-{RUN}", policyDocument=json.dumps(allow))
    client.create_policy(policyName=f"console-deny-{RUN}", policyDocument=json.dumps(deny))
    cert, good = device_files(client, "good", f"console-allow-{RUN}")
    _, bad = device_files(client, "bad", f"console-deny-{RUN}")
    thing_arn = client.create_thing(thingName=THING)["thingArn"]
    client.create_job(jobId=f"console-job-{RUN}", targets=[thing_arn], document='{"operation": "blink"}')
    client.attach_thing_principal(thingName=THING, principal=cert["certificateArn"])
    ca = os.path.join(WORK, "ca.pem")
    urllib.request.urlretrieve(f"{API}/iotmock/AmazonRootCA1.pem", ca)
    return ca, good, bad


def mqtt_client(client_id, ca, files):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=ca, certfile=files["cert"], keyfile=files["key"])
    return c


def browser():
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, f"console-{name}.png"))


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    ca, good, bad = setup()
    driver = browser()
    wait = WebDriverWait(driver, 10, poll_frequency=0.05)
    try:
        driver.get(f"{API}/console")
        wait.until(lambda d: text_of(d, "status") == "live")

        # A device connects and appears.
        deltas = queue.Queue()
        device = mqtt_client(THING, ca, good)
        device.on_message = lambda c, u, m: deltas.put(json.loads(m.payload))
        device.connect("localhost", PORT)
        device.loop_start()
        device.subscribe(f"$aws/things/{THING}/shadow/update/delta", qos=1)
        try:
            wait.until(lambda d: THING in text_of(d, "connections"))
            check("a connected device appears", True)
        except Exception as e:  # noqa: BLE001
            check("a connected device appears", False, repr(e))
        shot(driver, "connections")

        # A refused device appears with the statement that denied it.
        refused = mqtt_client(REFUSED, ca, bad)
        try:
            refused.connect("localhost", PORT)
            refused.loop(timeout=2.0)
        except Exception:  # noqa: BLE001
            pass
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=refusals]").click()
        try:
            wait.until(lambda d: REFUSED in text_of(d, "refusals"))
            row = text_of(driver, "refusals")
            check("a refused device appears with its deciding statement",
                  "NoRefused" in row and f"console-deny-{RUN}" in row, row)
        except Exception as e:  # noqa: BLE001
            check("a refused device appears with its deciding statement", False, repr(e))
        shot(driver, "refusals")

        # The test client sees a message mosquitto_pub published within 1 s.
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=test]").click()
        box = driver.find_element(By.ID, "filter")
        box.clear()
        box.send_keys(f"console/{RUN}/#")
        driver.find_element(By.CSS_SELECTOR, "#subscribe-form button[type=submit]").click()
        wait.until(lambda d: f"console/{RUN}/#" in text_of(d, "filters"))
        sent = time.monotonic()
        subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(PORT), "--cafile", ca,
                        "--cert", good["cert"], "--key", good["key"], "-i", f"pub-{RUN}",
                        "-t", f"console/{RUN}/hello", "-m", '{"hello": "console"}', "-q", "1"],
                       check=True, timeout=20)
        try:
            WebDriverWait(driver, 5, poll_frequency=0.02).until(
                lambda d: f"console/{RUN}/hello" in text_of(d, "messages"))
            took = time.monotonic() - sent
            check(f"mosquitto_pub's message shows in the test client within 1 s ({took:.3f} s)", took < 1.0, f"{took:.3f} s")
        except Exception as e:  # noqa: BLE001
            check("mosquitto_pub's message shows in the test client", False, repr(e))
        shot(driver, "test-client")

        # A desired edit reaches the subscribed device as a delta.
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=shadows]").click()
        wait.until(lambda d: THING in text_of(d, "shadow-thing"))
        webdriver.support.ui.Select(driver.find_element(By.ID, "shadow-thing")).select_by_visible_text(THING)
        desired = driver.find_element(By.ID, "desired")
        desired.clear()
        desired.send_keys('{"color": "red"}')
        driver.find_element(By.CSS_SELECTOR, "#desired-form button[type=submit]").click()
        try:
            delta = deltas.get(timeout=5)
            check("a desired edit reaches the device as a delta", delta.get("state") == {"color": "red"}, delta)
        except queue.Empty:
            check("a desired edit reaches the device as a delta", False, "no delta in 5 s")
        wait.until(lambda d: "updated" in text_of(d, "desired-result"))
        shot(driver, "shadows")

        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=registry]").click()
        wait.until(lambda d: THING in text_of(d, "registry"))
        shot(driver, "registry")
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=jobs]").click()
        try:
            wait.until(lambda d: f"console-job-{RUN}" in text_of(d, "jobs"))
            driver.find_element(By.LINK_TEXT, f"console-job-{RUN}").click()
            wait.until(lambda d: THING in text_of(d, "executions"))
            driver.find_element(By.CSS_SELECTOR, "#executions a").click()
            wait.until(lambda d: "QUEUED" in text_of(d, "execution-history"))
            check("a job's executions and their history show", True)
        except Exception as e:  # noqa: BLE001
            check("a job's executions and their history show", False, repr(e))
        shot(driver, "jobs")
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=rules]").click()
        wait.until(lambda d: d.find_element(By.ID, "page-rules").is_displayed())
        shot(driver, "rules")
        driver.find_element(By.CSS_SELECTOR, "nav button[data-page=reports]").click()
        try:
            wait.until(lambda d: "load/report.html" in text_of(d, "reports"))
            href = driver.find_element(By.CSS_SELECTOR, "#reports a").get_attribute("href")
            driver.get(href)
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
            shot(driver, "report")
            check("the state dir's reports are listed and open", "load" in driver.title.lower() or bool(driver.title), driver.title)
        except Exception as e:  # noqa: BLE001
            check("the state dir's reports are listed and open", False, repr(e))
        errors = console_errors(driver)
        check("no console errors on any page", not errors, errors)
        device.loop_stop()
        device.disconnect()
    finally:
        driver.quit()
    print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
