// The iotmock console: live connections, refusals and an MQTT test client over one WebSocket
// (/console/live), and the registry, shadows, jobs and rules read from the mock's AWS API as
// the account chosen at the top. Every value is shown with textContent, never as HTML.
"use strict";

const state = { account: "", defaultAccount: "", region: "", ws: null, refusals: 0, filters: [] };
const $ = (id) => document.getElementById(id);

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function when(ms) {
  if (!ms) return "";
  const d = new Date(typeof ms === "number" && ms < 1e12 ? ms * 1000 : ms);
  return isNaN(d) ? String(ms) : d.toLocaleString();
}

function link(text, onClick) {
  const a = el("a", text, { href: "#" });
  a.addEventListener("click", (e) => { e.preventDefault(); onClick(); });
  return a;
}

// --- the mock's API, as the chosen account (its id is the access key the API maps to it) ---
async function api(method, path, body, headers) {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const h = Object.assign({
    "Authorization": `AWS4-HMAC-SHA256 Credential=${state.account}/${day}/${state.region}/iot/aws4_request, SignedHeaders=host, Signature=0`,
  }, headers || {});
  if (body !== undefined) h["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : {}; } catch (_) { json = { message: text }; }
  if (!r.ok) throw new Error(`${r.status} ${(json && (json.message || json.Message)) || text}`);
  return json;
}

// --- pages ---
const loaders = {};
function show(page) {
  for (const b of document.querySelectorAll("nav button")) {
    if (b.dataset.page === page) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== `page-${page}`;
  if (loaders[page]) loaders[page]().catch((e) => setStatus(e.message, false));
  history.replaceState(null, "", `#${page}`);
}

function setStatus(text, ok) {
  const s = $("status");
  s.textContent = text;
  s.className = `status ${ok ? "ok" : "bad"}`;
}

// --- live: connections, refusals, the test client ---
const conns = new Map();
const gone = [];

function drawConnections() {
  const body = $("connections").tBodies[0];
  body.replaceChildren();
  for (const c of [...conns.values()].sort((a, b) => String(a.clientId).localeCompare(String(b.clientId)))) {
    const subs = (c.subscriptions || []).map((s) => (typeof s === "string" ? s : s.filter)).join(", ");
    const principal = /^[0-9a-f]{64}$/.test(c.principalIdentifier || "")
      ? link(c.principalIdentifier, () => { show("registry"); certificate(c.principalIdentifier); })
      : el("code", c.principalIdentifier);
    const tls = [c.tlsVersion, c.cipher].filter(Boolean).join(" ");
    const counts = c.messagesIn === undefined ? "" : `${c.messagesIn} / ${c.messagesOut}`;
    const tr = row([el("code", c.clientId), c.thingName || "", principal, c.ipAddress, c.door || "", c.mqttVersion || "", tls, counts, when(c.timestamp), subs]);
    tr.title = `session ${c.sessionIdentifier || ""}`;
    body.appendChild(tr);
  }
  $("connected-count").textContent = conns.size;
  const gbody = $("gone").tBodies[0];
  gbody.replaceChildren();
  for (const g of gone.slice(0, 100)) {
    gbody.appendChild(row([el("code", g.clientId), el("code", g.principalIdentifier), when(g.timestamp), g.disconnectReason, g.clientInitiatedDisconnect ? "yes" : "no"]));
  }
}

function addRefusal(r) {
  const body = $("refusals").tBodies[0];
  const cert = r.certificate ? link(r.certificate, () => { show("registry"); certificate(r.certificate); }) : "";
  const why = el("span", r.reason || r.message);
  const policy = /policy (\S+) version/.exec(r.reason || "");
  if (policy) {
    why.appendChild(document.createTextNode(" "));
    why.appendChild(link(`(policy ${policy[1]})`, () => { show("registry"); policyVersions(policy[1]).catch((e) => setStatus(e.message, false)); }));
  }
  const tr = row([when(r.at), r.what, r.client_id || r.client || r.peer || "", r.topic || r.filter || "", why, cert]);
  tr.title = r.message || "";
  body.insertBefore(tr, body.firstChild);
  while (body.rows.length > 1000) body.deleteRow(-1);
  state.refusals += 1;
  $("refusal-count").textContent = state.refusals;
}

function pretty(payload) {
  try { return JSON.stringify(JSON.parse(payload), null, 2); } catch (_) { return payload; }
}

function addMessage(m) {
  const li = el("li");
  const head = el("div");
  head.appendChild(el("span", m.topic, { class: "topic" }));
  head.appendChild(el("span", `  ${when(m.at)}${m.clientId ? "  from " + m.clientId : ""}${m.retained ? "  (retained)" : ""}`, { class: "muted" }));
  li.appendChild(head);
  li.appendChild(el("pre", m.payload !== null && m.payload !== undefined ? pretty(m.payload) : `(binary, base64) ${m.payloadBase64}`));
  if (m.properties) li.appendChild(el("pre", `properties: ${JSON.stringify(m.properties)}`, { class: "muted" }));
  const list = $("messages");
  list.insertBefore(li, list.firstChild);
  while (list.children.length > 500) list.removeChild(list.lastChild);
}

function drawFilters() {
  const ul = $("filters");
  ul.replaceChildren();
  for (const f of state.filters) {
    const li = el("li");
    li.appendChild(el("code", f));
    const b = el("button", "Unsubscribe", { type: "button", "aria-label": `Unsubscribe from ${f}` });
    b.addEventListener("click", () => send({ op: "unsubscribe", filter: f }));
    li.appendChild(b);
    ul.appendChild(li);
  }
}

function heard(msg) {
  switch (msg.kind) {
    case "snapshot":
      conns.clear(); gone.length = 0;
      for (const c of msg.connections) conns.set(c.clientId, c);
      gone.push(...msg.gone);
      $("refusals").tBodies[0].replaceChildren(); state.refusals = 0;
      for (const r of msg.refusals) addRefusal(r);
      drawConnections();
      for (const f of state.filters) send({ op: "subscribe", filter: f });
      break;
    case "connected": conns.set(msg.event.clientId, Object.assign({ subscriptions: [] }, msg.event)); drawConnections(); break;
    case "disconnected": {
      const c = conns.get(msg.event.clientId);
      if (c && c.sessionIdentifier === msg.event.sessionIdentifier) conns.delete(msg.event.clientId);
      gone.unshift(msg.event); drawConnections(); break;
    }
    case "subscribed": case "unsubscribed": {
      const c = conns.get(msg.event.clientId);
      if (c) {
        const now = new Set((c.subscriptions || []).map((s) => (typeof s === "string" ? s : s.filter)));
        for (const t of msg.event.topics || []) { if (msg.kind === "subscribed") now.add(t); else now.delete(t); }
        c.subscriptions = [...now].sort();
        drawConnections();
      }
      break;
    }
    case "refusal": addRefusal(msg.refusal); break;
    case "registry": registryChanged(); break;
    case "message": addMessage(msg); break;
    case "subscribed-test":
      if (!state.filters.includes(msg.filter)) state.filters.push(msg.filter);
      drawFilters(); break;
    case "unsubscribed-test": state.filters = state.filters.filter((f) => f !== msg.filter); drawFilters(); break;
    case "published": setStatus(`published to ${msg.topic}`, true); break;
    case "note": setStatus(msg.message, true); break;
    case "lagged": setStatus(`the page fell behind: ${msg.missed} updates missed`, false); break;
    case "error": setStatus(`${msg.op || ""} ${msg.message}`, false); break;
    default: break;
  }
}

// The registry changed: the page on screen that shows it is read again (at most every 500 ms).
let rereading = null;
function registryChanged() {
  if (rereading) return;
  rereading = setTimeout(() => {
    rereading = null;
    const page = currentPage();
    if (["registry", "jobs", "rules"].includes(page) && loaders[page]) loaders[page]().catch((e) => setStatus(e.message, false));
  }, 500);
}

function send(obj) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(obj));
}

function connectLive() {
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/console/live?account=${encodeURIComponent(state.account)}`);
  state.ws = ws;
  ws.onopen = () => setStatus("live", true);
  ws.onmessage = (e) => { try { heard(JSON.parse(e.data)); } catch (err) { setStatus(err.message, false); } };
  ws.onclose = () => { setStatus("disconnected: retrying", false); setTimeout(connectLive, 1000); };
}

// The message counts as of now (the live feed carries connects and disconnects, not counts).
async function refreshConnections() {
  const snap = await (await fetch(`/console/api/snapshot?account=${encodeURIComponent(state.account)}`)).json();
  conns.clear();
  for (const c of snap.connections) conns.set(c.clientId, c);
  drawConnections();
}

// --- registry ---
function table(title, headings, rows) {
  const wrap = el("div");
  wrap.appendChild(el("h3", `${title} (${rows.length})`));
  const t = el("table");
  const head = el("tr");
  for (const h of headings) head.appendChild(el("th", h, { scope: "col" }));
  t.appendChild(el("thead")).appendChild(head);
  const body = el("tbody");
  for (const r of rows) body.appendChild(row(r));
  t.appendChild(body);
  wrap.appendChild(t);
  return wrap;
}

loaders.registry = async () => {
  const [things, certs, cas, policies, groups, types] = await Promise.all([
    api("GET", "/things?maxResults=250"), api("GET", "/certificates?pageSize=250"),
    api("GET", "/cacertificates?pageSize=250"), api("GET", "/policies?pageSize=250"),
    api("GET", "/thing-groups?maxResults=250"), api("GET", "/thing-types?maxResults=250"),
  ]);
  const box = $("registry");
  box.replaceChildren(
    table("Things", ["Name", "Type", "Attributes", "Version"], (things.things || []).map((t) => [el("code", t.thingName), t.thingTypeName, JSON.stringify(t.attributes || {}), t.version])),
    table("Certificates", ["ID", "Status", "Created"], (certs.certificates || []).map((c) => [link(c.certificateId, () => certificate(c.certificateId)), c.status, when(c.creationDate)])),
    table("CA certificates", ["ID", "Status", "Created"], (cas.certificates || []).map((c) => [el("code", c.certificateId), c.status, when(c.creationDate)])),
    table("Policies", ["Name", "Versions"], (policies.policies || []).map((p) => [el("code", p.policyName), link("show", () => policyVersions(p.policyName))])),
    table("Thing groups", ["Name", "ARN"], (groups.thingGroups || []).map((g) => [el("code", g.groupName), g.groupArn])),
    table("Thing types", ["Name", "Deprecated"], (types.thingTypes || []).map((t) => [el("code", t.thingTypeName), t.thingTypeMetadata && t.thingTypeMetadata.deprecated ? "yes" : "no"])),
  );
};

async function policyVersions(name) {
  const v = await api("GET", `/policies/${encodeURIComponent(name)}/version`);
  const lines = [];
  for (const pv of v.policyVersions || []) {
    const doc = await api("GET", `/policies/${encodeURIComponent(name)}/version/${pv.versionId}`);
    lines.push(`${name} v${pv.versionId}${pv.isDefaultVersion ? " (default)" : ""}\n${pretty(doc.policyDocument)}`);
  }
  $("policy-detail").textContent = lines.join("\n\n");
}

async function certificate(id) {
  const d = (await api("GET", `/certificates/${encodeURIComponent(id)}`)).certificateDescription || {};
  const arn = d.certificateArn || "";
  const policies = await api("POST", `/attached-policies/${encodeURIComponent(arn)}?recursive=false`, {});
  const things = await api("GET", "/principals/things", undefined, { "x-amzn-principal": arn });
  $("cert-detail").hidden = false;
  $("cert-id").textContent = id;
  const dl = $("cert-facts");
  dl.replaceChildren();
  const facts = [["Status", d.status], ["CA", d.caCertificateId || "(registered without a CA)"], ["ARN", arn],
    ["Policies", (policies.policies || []).map((p) => p.policyName).join(", ") || "none"],
    ["Things", (things.things || []).join(", ") || "none"]];
  for (const [k, v] of facts) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
  $("cert-detail").dataset.arn = arn;
  $("cert-detail").scrollIntoView();
}

async function testAuthorization(e) {
  e.preventDefault();
  const arn = $("cert-detail").dataset.arn;
  const action = $("authz-action").value;
  const what = $("authz-resource").value;
  const kind = { CONNECT: "client", SUBSCRIBE: "topicfilter" }[action] || "topic";
  const resource = `arn:aws:iot:${state.region}:${state.account}:${kind}/${what}`;
  const r = await api("POST", "/test-authorization", { principal: arn, authInfos: [{ actionType: action, resources: [resource] }] });
  const res = (r.authResults || [])[0] || {};
  const out = $("authz-result");
  out.replaceChildren(el("span", res.authDecision || "?", { class: res.authDecision === "ALLOWED" ? "allow" : "deny" }));
  out.appendChild(document.createTextNode(`\n${JSON.stringify(res, null, 2)}`));
}

// --- shadows ---
loaders.shadows = async () => {
  const things = await api("GET", "/things?maxResults=250");
  const sel = $("shadow-thing");
  const keep = sel.value;
  sel.replaceChildren(...(things.things || []).map((t) => el("option", t.thingName)));
  if (keep) sel.value = keep;
  await shadowNames();
};

async function shadowNames() {
  const thing = $("shadow-thing").value;
  const sel = $("shadow-name");
  sel.replaceChildren(el("option", "(classic)", { value: "" }));
  if (!thing) return;
  const named = await api("GET", `/api/things/shadow/ListNamedShadowsForThing/${encodeURIComponent(thing)}`);
  for (const n of named.results || []) sel.appendChild(el("option", n));
}

function shadowPath() {
  const thing = encodeURIComponent($("shadow-thing").value);
  const name = $("shadow-name").value;
  return `/things/${thing}/shadow${name ? `?name=${encodeURIComponent(name)}` : ""}`;
}

async function loadShadow() {
  try {
    const doc = await api("GET", shadowPath());
    $("shadow-version").textContent = `version ${doc.version}`;
    $("shadow-doc").textContent = JSON.stringify(doc, null, 2);
    $("desired").value = JSON.stringify((doc.state && doc.state.desired) || {}, null, 2);
  } catch (err) {
    $("shadow-version").textContent = "";
    $("shadow-doc").textContent = err.message;
  }
}

async function updateDesired(e) {
  e.preventDefault();
  let desired;
  try { desired = JSON.parse($("desired").value); } catch (err) { $("desired-result").textContent = `not JSON: ${err.message}`; return; }
  try {
    const r = await api("POST", shadowPath(), { state: { desired } });
    $("desired-result").textContent = `updated: version ${r.version}`;
    await loadShadow();
  } catch (err) { $("desired-result").textContent = err.message; }
}

// --- jobs and rules ---
loaders.jobs = async () => {
  const jobs = await api("GET", "/jobs?maxResults=250");
  const body = $("jobs").tBodies[0];
  body.replaceChildren(...(jobs.jobs || []).map((j) => row([link(j.jobId, () => executions(j.jobId)), j.status, j.targetSelection, when(j.createdAt)])));
};

async function executions(id) {
  const r = await api("GET", `/jobs/${encodeURIComponent(id)}/things?maxResults=250`);
  $("job-detail").hidden = false;
  $("job-id").textContent = id;
  $("executions").tBodies[0].replaceChildren(...(r.executionSummaries || []).map((s) => {
    const e = s.jobExecutionSummary || {};
    const thing = String(s.thingArn || "").split("/").pop();
    return row([link(thing, () => executionHistory(id, thing, e.executionNumber || 1)), e.status, `#${e.executionNumber}${e.retryAttempt ? ` (retry ${e.retryAttempt})` : ""}`, when(e.queuedAt), when(e.lastUpdatedAt)]);
  }));
}

// An execution's history: every attempt (executionNumber 1..n), each queued, started, last
// updated with its status and details.
async function executionHistory(job, thing, attempts) {
  const lines = [];
  for (let n = 1; n <= attempts; n += 1) {
    const r = await api("GET", `/things/${encodeURIComponent(thing)}/jobs/${encodeURIComponent(job)}?executionNumber=${n}`);
    const e = r.execution || {};
    lines.push(`#${n}  queued ${when(e.queuedAt)}` + (e.startedAt ? `  started ${when(e.startedAt)}` : "")
      + `  ${e.status} at ${when(e.lastUpdatedAt)} (version ${e.versionNumber})`
      + (e.statusDetails && e.statusDetails.detailsMap ? `\n    details ${JSON.stringify(e.statusDetails.detailsMap)}` : ""));
  }
  $("execution-history").textContent = `${thing} / ${job}\n${lines.join("\n")}`;
}

loaders.rules = async () => {
  await Promise.all([actionLog(""), evaluations("")]);
  const rules = await api("GET", "/rules?maxResults=250");
  $("rules").tBodies[0].replaceChildren(...(rules.rules || []).map((r) => row([link(r.ruleName, () => rule(r.ruleName)), r.topicPattern, r.ruleDisabled ? "no" : "yes", when(r.createdAt)])));
};

async function rule(name) {
  const r = await api("GET", `/rules/${encodeURIComponent(name)}`);
  $("rule-detail").textContent = JSON.stringify(r.rule || r, null, 2);
  await actionLog(name);
}

async function actionLog(name) {
  const r = await api("GET", `/iotmock/actions${name ? `?rule=${encodeURIComponent(name)}` : ""}`);
  $("actions-of").textContent = name ? `(rule ${name})` : "(every rule)";
  const newest = (r.actions || []).slice(-200).reverse();
  $("actions").tBodies[0].replaceChildren(...newest.map((a) => row([
    when(a.timestamp), a.ruleName, a.actionType, JSON.stringify(a.parameters || {}),
    a.error ? `${a.outcome}: ${a.error}` : a.outcome,
  ])));
}

async function evaluations(trace) {
  const r = await (await fetch(`/console/api/evaluations${trace ? `?trace=${trace}` : ""}`, { method: trace ? "POST" : "GET" })).json();
  $("trace-toggle").textContent = r.tracing ? "Stop tracing" : "Start tracing";
  $("trace-toggle").dataset.on = r.tracing ? "1" : "";
  $("evaluations").tBodies[0].replaceChildren(...(r.evaluations || []).slice(-200).reverse().map((e) => row([
    when(e.at), e.rule, e.topic, e.matched ? "matched: actions ran" : `not matched: ${e.why || ""}`,
  ])));
}

loaders.reports = async () => {
  const r = await (await fetch("/console/api/reports")).json();
  if (r.dir) $("reports-dir").textContent = r.dir;
  $("reports").tBodies[0].replaceChildren(...(r.reports || []).map((x) => {
    const a = el("a", x.name, { href: `/console/reports/${x.name.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", rel: "noopener" });
    return row([a, when(x.modified)]);
  }));
};

// --- start ---
async function start() {
  const snap = await (await fetch(`/console/api/snapshot`)).json();
  state.defaultAccount = snap.defaultAccount;
  state.region = snap.region;
  state.account = new URLSearchParams(location.search).get("account") || snap.defaultAccount;
  const sel = $("account");
  sel.replaceChildren(...snap.accounts.map((a) => el("option", a === snap.defaultAccount ? `${a} (default)` : a, { value: a })));
  sel.value = state.account;
  sel.addEventListener("change", () => { state.account = sel.value; state.filters = []; drawFilters(); connectLive(); show(currentPage()); });
  $("region").textContent = `region ${snap.region}`;
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.page));
  $("subscribe-form").addEventListener("submit", (e) => { e.preventDefault(); send({ op: "subscribe", filter: $("filter").value }); });
  $("publish-form").addEventListener("submit", (e) => {
    e.preventDefault();
    send({ op: "publish", topic: $("pub-topic").value, payload: $("pub-payload").value, qos: Number($("pub-qos").value), retain: $("pub-retain").checked });
  });
  $("clear-messages").addEventListener("click", () => $("messages").replaceChildren());
  $("refresh-connections").addEventListener("click", () => refreshConnections().catch((e) => setStatus(e.message, false)));
  $("authz-form").addEventListener("submit", (e) => testAuthorization(e).catch((err) => { $("authz-result").textContent = err.message; }));
  $("shadow-thing").addEventListener("change", () => shadowNames().catch((err) => setStatus(err.message, false)));
  $("shadow-load").addEventListener("click", () => loadShadow());
  $("desired-form").addEventListener("submit", (e) => updateDesired(e));
  $("trace-toggle").addEventListener("click", () => evaluations($("trace-toggle").dataset.on ? "off" : "on").catch((err) => setStatus(err.message, false)));
  connectLive();
  show(currentPage());
}

function currentPage() {
  const page = location.hash.slice(1);
  return document.getElementById(`page-${page}`) ? page : "connections";
}

start().catch((e) => setStatus(e.message, false));
