// mqtt.js over WSS through iotmock's port-443 door, for doors.sh: connects with a URL that
// carries a SigV4 query (the mock does not verify signatures by default), subscribes,
// publishes QoS 1 and waits for its own message. Prints "PASS mqtt.js" or "FAIL mqtt.js | why".
// Usage: node doors_mqttjs.js HOST PORT443 REGION CA_FILE TOPIC
const fs = require('fs');
const mqtt = require('mqtt');
const [host, port, region, caFile, topic] = process.argv.slice(2);
const now = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const query = new URLSearchParams({
  'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
  'X-Amz-Credential': `AKIDMQTTJS/${now.slice(0, 8)}/${region}/iotdevicegateway/aws4_request`,
  'X-Amz-Date': now,
  'X-Amz-Expires': '86400',
  'X-Amz-SignedHeaders': 'host',
  'X-Amz-Signature': '0'.repeat(64),
});
const client = mqtt.connect(`wss://${host}:${port}/mqtt?${query}`, {
  ca: fs.readFileSync(caFile),
  protocolVersion: 5,
  clientId: `mqttjs-${process.pid}`,
  reconnectPeriod: 0,
  connectTimeout: 10000,
});
// Once the message came back the check has passed: an error while the client closes (the
// broker may drop the socket right after DISCONNECT, before mqtt.js writes its close frame)
// does not undo it.
let passed = false;
const fail = (why) => { if (passed) return; console.log(`FAIL mqtt.js | ${why}`); process.exit(0); };
setTimeout(() => fail('timed out'), 15000);
let connected = false;
client.on('error', (e) => fail(`error ${e.message}`));
client.on('close', () => { if (!connected) fail('closed before CONNACK (the upgrade was refused)'); });
client.on('connect', () => {
  connected = true;
  client.subscribe(topic, { qos: 1 }, (err) => {
    if (err) return fail(`subscribe ${err.message}`);
    client.publish(topic, '{"via":"mqtt.js"}', { qos: 1 });
  });
});
client.on('message', (t, payload) => {
  if (payload.toString() === '{"via":"mqtt.js"}') {
    passed = true;
    console.log('PASS mqtt.js');
    client.end(false, () => process.exit(0));
  }
});
