// SPDX-License-Identifier: Apache-2.0
// Converse.js in Debian's chromium for ward's xmpp-web end-to-end tests:
//   node converse.mjs --transport ws|bosh --service URL --jid BARE_JID --password P
//        [--static-port N] [--expect-contact JID] [--send-to JID --body TEXT]
//        [--expect-from JID --expect-body TEXT] [--screenshot-dir DIR]
//        [--ca PEM | --ignore-https-errors] [--client-cert PEM --client-key PEM] [--expect-refused]
//        [--timeout-ms N] [--loglevel debug|info|warn|error]
// 1. Serves converse/index.html, converse/ward-e2e.js and converse.js's dist files (nothing
//    else; no directory listing, no "..") on http://127.0.0.1:N with Node's http module. N is
//    --static-port (the C++ test reserves it, because the page's origin must be configured in
//    the proxy before the page loads; 0 = any free port). Prints {"event":"static","origin":...};
//    that origin is the Origin header of the page's WebSocket and BOSH requests.
// 2. Launches /usr/bin/chromium (or $WARD_CHROMIUM) headless through playwright-core, as
//    console.mjs does (no browser download), and opens the page, which logs in with
//    auto_login over the given transport: --service is the WebSocket URL (ws:// or wss://) for
//    --transport ws, the BOSH URL (http:// or https://) for --transport bosh.
// 3. Prints {"event":"online","jid":FULL_JID} once logged in and the server has echoed the
//    initial presence (a message sent to the bare JID from then on reaches this browser), then,
//    in this order and each only if asked:
//    --expect-contact: waits until the roster shows that contact, saves roster.png, prints
//      {"event":"contact","jid":...}. Converse shows the roster the server has: put the contact
//      in the user's roster before the test (see tests/e2e/xmpp/prosody.cfg.lua.in: prosody's
//      internal storage file data/<domain>/roster/<user>.dat, written before prosody starts).
//    --send-to/--body: opens the chat with that contact, types the body and presses Enter;
//      prints {"event":"sent","to":...,"body":...} once it shows in the chat.
//    --expect-from/--expect-body: opens the chat with that contact and waits until a message
//      from it with exactly that text shows in the chat; saves message.png, prints
//      {"event":"received","from":BARE_JID,"body":...}.
//    Along the way: {"event":"status","status":"CONNECTING"|"CONNFAIL"|...,"message":...},
//    {"event":"connected"}, {"event":"message",...} (converse's model), and on failure
//    {"event":"error","message":...} (with error.png when possible).
// --expect-refused: succeed only if the connection fails (CONNFAIL, ERROR, CONNTIMEOUT, a
//    disconnect before login, or a BOSH request failing in the network stack, e.g.
//    net::ERR_BAD_SSL_CLIENT_AUTH_CERT); prints {"event":"refused","status":...,"message":...}
//    and saves refused.png. An authentication failure (AUTHFAIL) is an error, not a refusal:
//    the transport worked.
// TLS to the service (wss:// or https://), one of:
//    --ignore-https-errors: any server certificate is accepted (as console.mjs does).
//    --ca PEM: without --client-cert, chromium gets --ignore-certificate-errors-spki-list with
//      the public keys of the certificates in PEM: it accepts a server chain that contains a
//      certificate with one of those keys, whatever else is wrong with it (name included).
//      The CA's key works only if the server sends the CA certificate in its chain; otherwise
//      put the server's own certificate (or its intermediate) in PEM.
//      With --client-cert, the check is exact: see below.
//    neither: chromium's own trust store (the test CA is not in it: a refusal).
// --client-cert/--client-key go to playwright's clientCertificates for the service's origin:
//    playwright then makes that TLS connection itself, in Node, in this process (a local SOCKS
//    proxy in front of chromium, which talks TLS to playwright's own dummy certificate). That
//    connection verifies the server against exactly the certificates in --ca (trust store of
//    the client certificate's secure context; host name or IP checked), or against Node's
//    default store plus $NODE_EXTRA_CA_CERTS without --ca, or not at all with
//    --ignore-https-errors. A TLS failure there reaches the page as an HTTP 503 from
//    playwright (for a WebSocket: "Unexpected response code: 503", i.e. CONNFAIL).
// Output: one JSON object per line on stdout; diagnostics on stderr. Exit 0 when everything
// asked for happened, 1 on failure or timeout (--timeout-ms, default 60000, for the whole run),
// 2 on bad arguments.
import { chromium } from "playwright-core";
import { X509Certificate, createHash } from "node:crypto";
import tls from "node:tls";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

let opts, caPem = null, caPins = null;
try {
  ({ values: opts } = parseArgs({
    options: {
      transport: { type: "string" }, service: { type: "string" }, jid: { type: "string" },
      password: { type: "string" }, "static-port": { type: "string", default: "0" },
      "expect-contact": { type: "string" }, "send-to": { type: "string" }, body: { type: "string" },
      "expect-from": { type: "string" }, "expect-body": { type: "string" },
      "screenshot-dir": { type: "string" }, "ignore-https-errors": { type: "boolean", default: false }, ca: { type: "string" },
      "client-cert": { type: "string" }, "client-key": { type: "string" },
      "expect-refused": { type: "boolean", default: false },
      "timeout-ms": { type: "string", default: "60000" }, loglevel: { type: "string", default: "warn" },
    },
    strict: true,
  }));
  for (const required of ["transport", "service", "jid", "password"])
    if (!opts[required]) throw new Error(`--${required} is required`);
  if (opts.transport === "ws") {
    if (!/^wss?:\/\//.test(opts.service)) throw new Error("--transport ws takes a ws:// or wss:// --service");
  } else if (opts.transport === "bosh") {
    if (!/^https?:\/\//.test(opts.service)) throw new Error("--transport bosh takes an http:// or https:// --service");
  } else {
    throw new Error("--transport is ws or bosh");
  }
  if (!!opts["send-to"] !== (opts.body !== undefined)) throw new Error("--send-to and --body go together");
  if (!!opts["expect-from"] !== (opts["expect-body"] !== undefined))
    throw new Error("--expect-from and --expect-body go together");
  if (!!opts["client-cert"] !== !!opts["client-key"]) throw new Error("--client-cert and --client-key go together");
  if (opts.ca && opts["ignore-https-errors"]) throw new Error("--ca and --ignore-https-errors exclude each other");
  if (opts.ca) {
    caPem = readFileSync(opts.ca, "utf8");
    const certs = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [];
    if (!certs.length) throw new Error(`no certificate in ${opts.ca}`);
    caPins = certs.map((pem) => createHash("sha256")
      .update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("base64"));
  }
  if (!/^\d+$/.test(opts["static-port"]) || Number(opts["static-port"]) > 65535) throw new Error("--static-port is 0..65535");
  if (!(Number(opts["timeout-ms"]) > 0)) throw new Error("--timeout-ms must be a positive number");
} catch (e) {
  console.error(`converse.mjs: ${e.message}`);
  process.exit(2);
}
const bare = (jid) => jid.split("/")[0].toLowerCase();
const deadline = Date.now() + Number(opts["timeout-ms"]);
const remaining = () => Math.max(1, deadline - Date.now());
const shotDir = opts["screenshot-dir"];
if (shotDir) mkdirSync(shotDir, { recursive: true });

// 1. The static server: an allow-list of two files plus converse's dist folder.
const here = dirname(fileURLToPath(import.meta.url));
const distDir = dirname(createRequire(import.meta.url).resolve("converse.js/dist/converse.min.js"));
const pageFiles = { "/": join(here, "converse", "index.html"), "/index.html": join(here, "converse", "index.html"),
                    "/ward-e2e.js": join(here, "converse", "ward-e2e.js") };
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json",
                ".wasm": "application/wasm", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
                ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject", ".woff": "font/woff", ".woff2": "font/woff2", ".mp3": "audio/mpeg", ".ogg": "audio/ogg" };

function fileFor(urlPath) {
  if (Object.hasOwn(pageFiles, urlPath)) return pageFiles[urlPath];
  if (!urlPath.startsWith("/dist/")) return null;
  let rel;
  try { rel = decodeURIComponent(urlPath.slice("/dist/".length)); } catch { return null; }
  if (rel.includes("\0") || rel.includes("\\") || rel.split("/").some((part) => part === ".." || part === "." || part === ""))
    return null;
  const path = resolve(distDir, rel);
  return path.startsWith(distDir + sep) ? path : null;
}

// The page may load from here only and talk to the service only (converse has settings that
// fetch from CDNs, and 12.0+ shows sponsor logos from conversejs.org): blocked without a
// network attempt, and reported on stderr ("request elsewhere"/"request failed ... csp").
const csp = ["default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
             "img-src 'self' data: blob:", "font-src 'self' data:", "media-src 'self' data: blob:", "worker-src 'self' blob:",
             `connect-src 'self' ${new URL(opts.service).origin}`, "frame-src 'none'", "object-src 'none'"].join("; ");
const server = createServer((req, res) => {
  const urlPath = new URL(req.url, "http://x").pathname;
  const path = (req.method === "GET" || req.method === "HEAD") ? fileFor(urlPath) : null;
  let body = null;
  try { if (path && statSync(path).isFile()) body = readFileSync(path); } catch { body = null; }
  if (!body) {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    return;
  }
  res.writeHead(200, { "Content-Type": types[extname(path)] || "application/octet-stream", "Content-Length": body.length,
                       "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": csp });
  res.end(req.method === "HEAD" ? undefined : body);
});
await new Promise((ok, fail) => { server.once("error", fail); server.listen(Number(opts["static-port"]), "127.0.0.1", ok); });
const origin = `http://127.0.0.1:${server.address().port}`;
emit({ event: "static", origin });

// 2. Chromium, as in console.mjs.
const args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
// Honoured with --user-data-dir, which playwright passes.
if (caPins) args.push(`--ignore-certificate-errors-spki-list=${caPins.join(",")}`);
const browser = await chromium.launch({
  executablePath: process.env.WARD_CHROMIUM || "/usr/bin/chromium",
  args,
  timeout: 30000,
});
const contextOptions = { viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: opts["ignore-https-errors"] };
let context;
if (opts["client-cert"]) {
  const serviceUrl = new URL(opts.service);
  const scheme = serviceUrl.protocol === "wss:" || serviceUrl.protocol === "https:" ? "https:" : "http:";
  contextOptions.clientCertificates = [{ origin: `${scheme}//${serviceUrl.host}`,
                                         certPath: opts["client-cert"], keyPath: opts["client-key"] }];
  // playwright builds the client certificate's TLS context with tls.createSecureContext while
  // the browser context is created; for that moment, give it --ca as its only trust anchors.
  const createSecureContext = tls.createSecureContext;
  if (caPem) tls.createSecureContext = (options) => createSecureContext({ ...options, ca: caPem });
  try {
    context = await browser.newContext(contextOptions);
  } finally {
    tls.createSecureContext = createSecureContext;
  }
} else {
  context = await browser.newContext(contextOptions);
}
const page = await context.newPage();

// Events from the page (ward-e2e.js) and a way to wait for them.
const seen = [];
const waiters = new Set();
let decided = false; // once the outcome is known, what the page says while closing is noise
function onPageEvent(event) {
  if (decided) return;
  seen.push(event);
  if (["status", "connected", "disconnected", "message", "request-failed"].includes(event.event)) emit(event);
  for (const w of waiters) w(event);
}
function waitForEvent(what, match) {
  return new Promise((ok, fail) => {
    const check = (event) => {
      if (match(event)) { done(); ok(event); return true; }
      return false;
    };
    const timer = setTimeout(() => { done(); fail(new Error(`timeout waiting for ${what}`)); }, remaining());
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    if (!seen.some(check)) waiters.add(check);
  });
}
await page.exposeFunction("wardReport", onPageEvent);
page.on("pageerror", (e) => console.error(`page error: ${e}`));
page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.error(`console ${m.type()}: ${m.text()}`); });
page.on("request", (r) => {
  const url = r.url();
  if (!url.startsWith(origin + "/") && !url.startsWith(opts.service) && !url.startsWith("data:") && !url.startsWith("blob:"))
    console.error(`request elsewhere: ${url}`);
});
page.on("requestfailed", (r) => {
  console.error(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  // A BOSH request that fails in the network stack (TLS refused, connection reset): Strophe
  // retries with back-off for a long time before giving up, but for --expect-refused the
  // first such failure is the answer. (WebSocket failures come as CONNFAIL at once.)
  if (r.url().startsWith(opts.service) && r.failure()?.errorText !== "net::ERR_ABORTED")
    onPageEvent({ event: "request-failed", url: r.url(), message: r.failure()?.errorText || "" });
});

const failedStatus = new Set(["CONNFAIL", "ERROR", "CONNTIMEOUT"]);
const isFailure = (e) => (e.event === "status" && (failedStatus.has(e.status) || e.status === "AUTHFAIL")) || e.event === "disconnected" ||
                        (opts["expect-refused"] && e.event === "request-failed");

async function shot(name) {
  if (!shotDir) return;
  const path = join(shotDir, name);
  await page.screenshot({ path, timeout: 10000 });
  emit({ event: "screenshot", path });
}

let status = 1;
try {
  const query = new URLSearchParams({ transport: opts.transport, service: opts.service, jid: opts.jid, password: opts.password,
                                      loglevel: opts.loglevel });
  await page.goto(`${origin}/?${query}`, { timeout: remaining() });

  // Online or failed, whichever comes first.
  const outcome = await waitForEvent("online or a connection failure", (e) => e.event === "online" || isFailure(e));
  if (opts["expect-refused"]) {
    if (outcome.event === "online") throw new Error(`online as ${outcome.jid} although a refusal was expected`);
    if (outcome.status === "AUTHFAIL") throw new Error(`authentication failed (${outcome.message}): the connection was not refused`);
    decided = true;
    emit({ event: "refused", status: outcome.status || outcome.event, message: outcome.message || "", ...(outcome.url ? { url: outcome.url } : {}) });
    await page.waitForTimeout(500); // let converse render its message
    await shot("refused.png");
    status = 0;
  } else {
    if (outcome.event !== "online")
      throw new Error(`connection failed: ${outcome.status || outcome.event}${outcome.message ? ` (${outcome.message})` : ""}`);
    emit({ event: "online", jid: outcome.jid });
    const failure = waitForEvent("a failure", isFailure).then(
      (e) => { throw new Error(`connection lost: ${e.status || e.event} ${e.message || ""}`.trim()); }, () => new Promise(() => {}));
    failure.catch(() => {}); // raced below; a late failure (e.g. while closing) is not an unhandled rejection
    const orFailure = (promise) => Promise.race([promise, failure]);
    // The roster entry of a contact: converse's <converse-roster-contact> element whose model
    // has that JID, visible, and its "open chat" link.
    const contactLink = async (jid) => {
      const handle = await orFailure(page.waitForFunction((jid) => {
        const contact = [...document.querySelectorAll("converse-roster-contact")].find((el) => el.model?.get?.("jid") === jid);
        const link = contact?.querySelector("a.open-chat");
        return link && link.getClientRects().length ? link : null;
      }, bare(jid), { timeout: remaining(), polling: 100 }));
      return handle.asElement();
    };
    const chatTextarea = (jid) => page.locator(`converse-chat[jid="${bare(jid)}"] textarea.chat-textarea`);
    const openChat = async (jid) => {
      await (await contactLink(jid)).click({ timeout: remaining() });
      await orFailure(chatTextarea(jid).waitFor({ timeout: remaining() }));
    };

    if (opts["expect-contact"]) {
      await contactLink(opts["expect-contact"]);
      await shot("roster.png");
      emit({ event: "contact", jid: bare(opts["expect-contact"]) });
    }
    if (opts["send-to"]) {
      await openChat(opts["send-to"]);
      const textarea = chatTextarea(opts["send-to"]);
      await textarea.fill(opts.body);
      await textarea.press("Enter");
      await orFailure(page.locator(`converse-chat[jid="${bare(opts["send-to"])}"] .chat-msg__text`, { hasText: opts.body })
        .first().waitFor({ timeout: remaining() }));
      emit({ event: "sent", to: opts["send-to"], body: opts.body });
    }
    if (opts["expect-from"]) {
      const from = bare(opts["expect-from"]);
      await openChat(from);
      // A message whose sender is that contact (any resource) with exactly the expected text.
      await orFailure(page.waitForFunction(({ from, text }) =>
        [...document.querySelectorAll(".chat-msg[data-from]")].some((m) => {
          const sender = m.getAttribute("data-from").toLowerCase();
          return (sender === from || sender.startsWith(from + "/")) &&
                 m.querySelector(".chat-msg__text")?.textContent.trim() === text;
        }), { from, text: opts["expect-body"] }, { timeout: remaining(), polling: 100 }));
      await shot("message.png");
      emit({ event: "received", from, body: opts["expect-body"] });
    }
    decided = true;
    status = 0;
  }
} catch (e) {
  decided = true;
  emit({ event: "error", message: String(e && e.message || e).split("\n")[0] });
  console.error(String(e && e.stack || e));
  await shot("error.png").catch(() => {});
} finally {
  await browser.close().catch(() => {});
  server.close();
}
process.exit(status);
