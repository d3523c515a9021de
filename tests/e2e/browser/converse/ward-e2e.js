// Glue for index.html: starts Converse.js (converse's own dist bundle, pinned in
// package-lock.json) with the settings in the page's query string and reports what happens to
// the test through window.wardReport (exposed by ../converse.mjs; without it, e.g. in a browser
// by hand, to the console). Query: transport=ws|bosh, service=URL, jid=, password=, loglevel=.
// converse.js 10.x is loaded by a classic <script> (window.converse); from 12.0 on the bundle is
// an ES module: `import converse from "/dist/converse.min.js"` here instead.
const converse = window.converse;
const query = new URLSearchParams(location.search);
const report = (event) => (window.wardReport ? window.wardReport(event) : console.log("ward-e2e", JSON.stringify(event)));

converse.plugins.add("ward-e2e", {
  initialize() {
    const _converse = this._converse;
    const { api } = _converse;
    const { Strophe } = converse.env;
    const statusName = Object.fromEntries(Object.entries(Strophe.Status).map(([name, n]) => [n, name]));
    const connection = () => api.connection.get?.() ?? _converse.connection;
    // Every change of the connection's state (CONNECTING, AUTHENTICATING, CONNFAIL, ...).
    api.listen.on("connfeedback", (feedback) => {
      const status = feedback.get("connection_status");
      report({ event: "status", status: statusName[status] ?? String(status), message: feedback.get("message") || "" });
    });
    api.listen.on("connected", () => {
      const conn = connection();
      report({ event: "connected", jid: conn.jid });
      // Online once the server echoes our initial presence (as the Node client does): from
      // then on, messages to the bare JID are delivered to this resource.
      conn.addHandler((stanza) => {
        if (stanza.getAttribute("from") !== conn.jid || stanza.getAttribute("type")) return true;
        report({ event: "online", jid: conn.jid });
        return false;
      }, null, "presence");
    });
    api.listen.on("disconnected", () => report({ event: "disconnected" }));
    // Messages as converse's model sees them (the test still waits for them in the DOM).
    api.listen.on("message", (data) => {
      const stanza = data?.stanza;
      const body = stanza?.querySelector?.(":scope > body")?.textContent;
      if (body !== undefined) report({ event: "message", from: stanza.getAttribute("from") || "", body });
    });
  },
});

const transport = query.get("transport");
const service = query.get("service") || "";
converse.initialize({
  whitelisted_plugins: ["ward-e2e"],
  authentication: "login",
  auto_login: true,
  jid: query.get("jid") || "",
  password: query.get("password") || "",
  ...(transport === "bosh" ? { bosh_service_url: service } : { websocket_url: service }),
  discover_connection_methods: false, // no XEP-0156 host-meta lookup: the service URL is given
  auto_reconnect: false, // one attempt: a failure is a result
  view_mode: "fullscreen",
  assets_path: "/dist/",
  i18n: "en",
  loglevel: query.get("loglevel") || "warn",
  // Nothing from elsewhere (the page's Content-Security-Policy enforces it): no sounds,
  // notifications, media previews or emoji images from a CDN.
  play_sounds: false,
  show_desktop_notifications: false,
  render_media: false,
  use_system_emojis: true,
  allow_non_roster_messaging: true,
  persistent_store: "sessionStorage",
  clear_cache_on_logout: true,
});
