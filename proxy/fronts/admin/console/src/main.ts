// SPDX-License-Identifier: Apache-2.0
// ward's admin console: one page per screen of the guide's admin pages (login with the banner,
// System > Security > Settings, TLS Peer Subjects, TLS Context Configuration, certificate
// upload, Control Center), plus the security mode and the audit log. Hash routes; every datum
// comes from the admin API on the same origin.
import { api, ApiError, setSessionKey, setUnauthorizedHandler } from "./api";
import { h } from "./dom";
import { pages, Session } from "./pages";

let session: Session | null = null;
// Navigations overlap (a page still loading when the next hash arrives): only the newest draws.
let navigation = 0;
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
  setSessionKey(null);
  location.hash = "#/login";
  await route();
}

async function loginPage(current: number) {
  const banner = await api.get<string>("/api/v1/banner").then((r) => r.data).catch(() => "");
  if (current !== navigation) return;
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
      const r = await api.post<Session & { session_key: string }>("/api/v1/session", { name: name.value, password: password.value });
      setSessionKey(r.data.session_key);
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
  const acknowledge = h("button", { class: "primary", type: "button", id: "acknowledge", disabled: s.password_change_required, onclick: () => {
    sessionStorage.setItem("ward-banner-acknowledged", s.account);
    location.hash = landing(s.role);
  } }, "I acknowledge");
  // An expired password (enhanced and common-criteria modes) is changed here, first.
  let change: HTMLElement | null = null;
  if (s.password_change_required) {
    const current = h("input", { id: "current-password", type: "password", autocomplete: "current-password", required: true });
    const next = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true });
    const error = h("p", { class: "error", role: "alert", id: "password-error" });
    const form = h("form", { "aria-label": "Change the expired password" },
      h("p", { class: "error" }, "Your password has expired: change it before anything else."),
      h("label", { for: "current-password" }, "Current password"), current,
      h("label", { for: "new-password" }, "New password"), next,
      h("div", { class: "row" }, h("button", { type: "submit" }, "Change password")), error);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        await api.put("/api/v1/session/password", { current: current.value, new: next.value });
        s.password_change_required = false;
        form.replaceChildren(h("p", { role: "status" }, "Password changed."));
        acknowledge.disabled = false;
      } catch (x) {
        error.textContent = x instanceof ApiError ? x.message : String(x);
      }
    });
    change = form;
  }
  app().replaceChildren(
    h("h1", {}, "Login banner"),
    h("section", { class: "card" },
      h("div", { class: "banner", id: "banner-after" }, s.banner),
      change,
      h("div", { class: "row" }, acknowledge)),
  );
}

async function route() {
  const current = ++navigation;
  if (session === null) {
    try {
      session = (await api.get<Session>("/api/v1/session")).data;
    } catch {
      session = null;
    }
    if (current !== navigation) return;
  }
  const hash = location.hash || "#/";
  header();
  if (!session) {
    if (hash !== "#/login") history.replaceState(null, "", "#/login");
    await loginPage(current);
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
  // The page draws into its own element, shown once it is ready and still the newest.
  const root = h("div", { class: "page" });
  try {
    await page(root, session, rest.map(decodeURIComponent));
  } catch (x) {
    root.replaceChildren(h("p", { class: "error", role: "alert" }, x instanceof ApiError ? x.message : String(x)));
  }
  if (current !== navigation) return;
  app().replaceChildren(root);
  app().focus();
}

setUnauthorizedHandler(() => {
  session = null;
  setSessionKey(null);
  location.hash = "#/login";
});
window.addEventListener("hashchange", () => void route());
void route();
