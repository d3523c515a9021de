// ward's admin console: one page per screen of the guide's admin pages (login with the banner,
// System > Security > Settings, TLS Peer Subjects, TLS Context Configuration, certificate
// upload, Control Center), plus the security mode and the audit log. Hash routes; every datum
// comes from the admin API on the same origin.
import { api, ApiError, setUnauthorizedHandler } from "./api";
import { h } from "./dom";
import { pages, Session } from "./pages";

let session: Session | null = null;
const app = () => document.getElementById("app") as HTMLElement;
const top = () => document.getElementById("top") as HTMLElement;

function acknowledged(): boolean {
  return session !== null && sessionStorage.getItem("ward-banner-acknowledged") === session.account;
}

function landing(role: string): string {
  return role === "operator" ? "#/control-center" : "#/settings";
}

function header() {
  const bar = top();
  bar.replaceChildren(h("span", { class: "brand" }, "ward admin"));
  if (!session || !acknowledged()) return;
  const links: [string, string, string[]][] = [
    ["#/settings", "System > Security > Settings", ["admin", "auditor"]],
    ["#/peer-subjects", "TLS Peer Subjects", ["admin", "auditor"]],
    ["#/tls-contexts", "TLS Context Configuration", ["admin", "auditor"]],
    ["#/certificates", "Certificates", ["admin", "auditor"]],
    ["#/control-center", "Control Center", ["admin", "operator"]],
    ["#/security-mode", "Security mode", ["admin", "auditor"]],
    ["#/audit", "Audit", ["admin", "auditor"]],
  ];
  const nav = h("nav", { "aria-label": "Pages" });
  for (const [href, text, roles] of links) if (roles.includes(session.role)) nav.append(h("a", { href }, text));
  bar.append(
    nav,
    h("span", { class: "who" }, `${session.account} (${session.role}) `,
      h("button", { class: "link", type: "button", onclick: logout }, "Log out")),
  );
}

async function logout() {
  try {
    await api.del("/api/v1/session");
  } catch {
    // Already gone: the login page either way.
  }
  session = null;
  sessionStorage.removeItem("ward-banner-acknowledged");
  location.hash = "#/login";
  await route();
}

async function loginPage() {
  const banner = await api.get<string>("/api/v1/banner").then((r) => r.data).catch(() => "");
  const name = h("input", { id: "login-name", type: "text", autocomplete: "username", required: true });
  const password = h("input", { id: "login-password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const form = h("form", { "aria-label": "Log in" },
    h("label", { for: "login-name" }, "Name"), name,
    h("label", { for: "login-password" }, "Password"), password,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Log in")),
    error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const r = await api.post<Session>("/api/v1/session", { name: name.value, password: password.value });
      session = r.data;
      sessionStorage.removeItem("ward-banner-acknowledged");
      location.hash = "#/welcome";
    } catch (x) {
      error.textContent = x instanceof ApiError ? x.message : String(x);
    }
  });
  app().replaceChildren(
    h("h1", {}, "Log in"),
    h("section", { class: "card" }, h("h2", {}, "Before you log in"), h("div", { class: "banner", id: "banner-before" }, banner)),
    h("section", { class: "card" }, form),
  );
  name.focus();
}

// The first page after login: the banner again, acknowledged explicitly.
function welcomePage() {
  if (!session) return;
  const s = session;
  app().replaceChildren(
    h("h1", {}, "Login banner"),
    h("section", { class: "card" },
      h("div", { class: "banner", id: "banner-after" }, s.banner),
      s.password_change_required ? h("p", { class: "error" }, "Your password has expired: change it before anything else.") : null,
      h("div", { class: "row" },
        h("button", { class: "primary", type: "button", id: "acknowledge", onclick: () => {
          sessionStorage.setItem("ward-banner-acknowledged", s.account);
          location.hash = landing(s.role);
        } }, "I acknowledge"))),
  );
}

async function route() {
  if (session === null) {
    try {
      session = (await api.get<Session>("/api/v1/session")).data;
    } catch {
      session = null;
    }
  }
  const hash = location.hash || "#/";
  header();
  if (!session) {
    if (hash !== "#/login") history.replaceState(null, "", "#/login");
    await loginPage();
    return;
  }
  if (!acknowledged()) {
    if (hash !== "#/welcome") history.replaceState(null, "", "#/welcome");
    welcomePage();
    return;
  }
  const [, name, ...rest] = hash.split("/");
  const page = pages[name || ""];
  if (!page) {
    location.hash = landing(session.role);
    return;
  }
  try {
    await page(app(), session, rest.map(decodeURIComponent));
  } catch (x) {
    app().replaceChildren(h("p", { class: "error", role: "alert" }, x instanceof ApiError ? x.message : String(x)));
  }
  app().focus();
}

setUnauthorizedHandler(() => {
  session = null;
  location.hash = "#/login";
});
window.addEventListener("hashchange", () => void route());
void route();
