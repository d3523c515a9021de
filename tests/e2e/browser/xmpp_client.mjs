// SPDX-License-Identifier: Apache-2.0
// A scripted XMPP client over WebSocket (RFC 7395) for ward's xmpp-web end-to-end tests:
//   node xmpp_client.mjs --service ws[s]://HOST:PORT/xmpp-websocket --domain D --username U --password P
//        [--resource R] [--send-to JID --body TEXT] [--expect-from BARE_JID --expect-body TEXT]
//        [--ca PEM] [--servername NAME] [--origin URL] [--client-cert PEM --client-key PEM]
//        [--expect-refused] [--timeout-ms N]
// Uses @xmpp/client (pinned in package-lock.json); works on Node 18 and 20. It logs in (SASL:
// SCRAM-SHA-1 if offered, else PLAIN; SCRAM needs sasl-scram-sha-1 1.3.0, pinned by
// package.json's "overrides": 1.4.0 made it async, which @xmpp/sasl 0.13 does not await, and
// prosody answers malformed-request), binds a resource, sends initial presence and waits for
// the server to echo it, then prints
//   {"event":"online","jid":"u@d/r"}
// That line is written (synchronously: stdout is a pipe or file) before anything else is
// awaited, so a test can start the other party when it sees it. Then, if asked, it sends one
// chat message ({"event":"sent","to":...,"body":...,"id":...}) and waits for a chat message
// whose bare sender is --expect-from and whose body is --expect-body. Every message with a body
// is printed as {"event":"received","from":FULL_JID,"body":...}. Failures print
// {"event":"error","message":...}. One JSON object per line on stdout; diagnostics on stderr.
// Exit status: 0 when everything asked for happened, 1 on an error or the timeout (default
// 20000 ms, for the whole run), 2 on bad arguments.
//
// TLS (wss://): the socket is always opened with the `ws` package (also on Node versions that
// have a global WebSocket), so TLS options can be passed: --ca trusts exactly the certificates
// in that PEM file instead of Node's default store (no verification is disabled);
// --servername sets SNI and the name checked in the server's certificate (default: the host of
// --service; by default none for an IP address, which is then checked against IP SANs);
// --client-cert/--client-key present a client certificate. --origin sends an Origin header
// (browsers always send one; without it none is sent).
// --expect-refused inverts the result: exit 0 when the connection fails before "online"
// (TCP, TLS, the WebSocket handshake, or a stream error; prints {"event":"refused",...}), 1 if
// it comes online. A SASL failure (wrong password) is an error, not a refusal: the transport
// worked (as in converse.mjs).
// A message sent to a bare JID that is offline is stored by prosody (mod_offline) and delivered
// at login, so the order of the two clients matters less than it seems; still, start the
// receiver first and wait for its "online" line.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import xmppClient from "@xmpp/client";

const { client, xml, jid: parseJid } = xmppClient;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      service: { type: "string" }, domain: { type: "string" }, username: { type: "string" },
      password: { type: "string" }, resource: { type: "string" },
      "send-to": { type: "string" }, body: { type: "string" },
      "expect-from": { type: "string" }, "expect-body": { type: "string" },
      ca: { type: "string" }, servername: { type: "string" }, origin: { type: "string" },
      "client-cert": { type: "string" }, "client-key": { type: "string" },
      "expect-refused": { type: "boolean", default: false },
      "timeout-ms": { type: "string", default: "20000" },
    },
    strict: true,
  }));
  for (const required of ["service", "domain", "username", "password"])
    if (!opts[required]) throw new Error(`--${required} is required`);
  if (!/^wss?:\/\//.test(opts.service)) throw new Error("--service must be a ws:// or wss:// URL");
  if (!!opts["send-to"] !== (opts.body !== undefined)) throw new Error("--send-to and --body go together");
  if (!!opts["expect-from"] !== (opts["expect-body"] !== undefined))
    throw new Error("--expect-from and --expect-body go together");
  if (!!opts["client-cert"] !== !!opts["client-key"]) throw new Error("--client-cert and --client-key go together");
  if (!(Number(opts["timeout-ms"]) > 0)) throw new Error("--timeout-ms must be a positive number");
} catch (e) {
  console.error(`xmpp_client.mjs: ${e.message}`);
  process.exit(2);
}

// Open @xmpp/websocket's socket with `ws` and our TLS options. The module instances are the
// ones @xmpp/client itself loads (resolved from its own folder).
const requireFromClient = createRequire(createRequire(import.meta.url).resolve("@xmpp/client"));
const socketPath = requireFromClient.resolve("@xmpp/websocket/lib/Socket.js");
const Socket = requireFromClient(socketPath);
const WS = createRequire(socketPath)("ws");
const wsOptions = { handshakeTimeout: Number(opts["timeout-ms"]) };
if (opts.ca) wsOptions.ca = readFileSync(opts.ca);
if (opts.servername) wsOptions.servername = opts.servername;
if (opts.origin) wsOptions.origin = opts.origin;
if (opts["client-cert"]) {
  wsOptions.cert = readFileSync(opts["client-cert"]);
  wsOptions.key = readFileSync(opts["client-key"]);
}
Socket.prototype.connect = function connect(url) {
  this.url = url;
  this._attachSocket(new WS(url, ["xmpp"], wsOptions));
};

const xmpp = client({
  service: opts.service,
  domain: opts.domain,
  username: opts.username,
  password: opts.password,
  resource: opts.resource,
});
xmpp.reconnect.stop(); // one attempt: a failure is a result

let online = false;
let finished = false;
let wanted = null; // resolves when the expected message arrives
const expectFrom = opts["expect-from"] ? parseJid(opts["expect-from"]).bare().toString() : null;
const gotExpected = new Promise((resolve) => { wanted = resolve; });
let selfPresence = null;
const gotSelfPresence = new Promise((resolve) => { selfPresence = resolve; });

async function finish(status, event) {
  if (finished) return;
  finished = true;
  if (event) emit(event);
  clearTimeout(timer);
  // Close the stream politely, but never wait long for it.
  await Promise.race([xmpp.stop().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  process.exit(status);
}

const timeoutMs = Number(opts["timeout-ms"]);
const timer = setTimeout(() => {
  const waitingFor = !online ? "online" : expectFrom ? `a message from ${expectFrom}` : "the end";
  if (opts["expect-refused"] && !online)
    finish(1, { event: "error", message: `timeout after ${timeoutMs} ms: neither online nor refused` });
  else finish(1, { event: "error", message: `timeout after ${timeoutMs} ms waiting for ${waitingFor}` });
}, timeoutMs);

function failed(err) {
  const message = String((err && (err.message || err.condition)) || err).trim();
  if (opts["expect-refused"] && !online && err?.name !== "SASLError") finish(0, { event: "refused", message });
  else finish(1, { event: "error", message });
}

xmpp.on("error", failed);
xmpp.on("disconnect", ({ clean } = {}) => {
  if (!finished) failed(new Error(`disconnected (${clean ? "clean" : "unclean"}) before the end`));
});

xmpp.on("stanza", (stanza) => {
  if (stanza.is("presence") && xmpp.jid && stanza.attrs.from === xmpp.jid.toString() && !stanza.attrs.type) {
    selfPresence();
    return;
  }
  if (!stanza.is("message")) return;
  const body = stanza.getChildText("body");
  if (body === null || body === undefined) return;
  const from = stanza.attrs.from || "";
  emit({ event: "received", from, type: stanza.attrs.type || "normal", body });
  if (expectFrom && from && parseJid(from).bare().toString() === expectFrom && body === opts["expect-body"]) wanted();
});

try {
  const address = await xmpp.start();
  await xmpp.send(xml("presence"));
  await gotSelfPresence; // the server has made this resource available
  online = true;
  if (opts["expect-refused"]) {
    await finish(1, { event: "error", message: `online as ${address} although a refusal was expected` });
  }
  emit({ event: "online", jid: address.toString() });
  if (opts["send-to"]) {
    const id = `ward-e2e-${Date.now().toString(36)}`;
    await xmpp.send(xml("message", { type: "chat", to: opts["send-to"], id }, xml("body", {}, opts.body)));
    emit({ event: "sent", to: opts["send-to"], body: opts.body, id });
  }
  if (expectFrom) await gotExpected;
  await finish(0);
} catch (e) {
  failed(e);
}
