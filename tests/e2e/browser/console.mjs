// SPDX-License-Identifier: Apache-2.0
// Browser scenarios for ward's admin console, run by tests/e2e/console_e2e_test.cpp:
//   node console.mjs SCENARIO URL OUTDIR [NAME=VALUE ...]
// Drives Debian's chromium (/usr/bin/chromium) through playwright-core; no browser download.
// Prints one JSON line of findings for the C++ test to check, and exits non-zero on a failed
// expectation (with the reason on stderr). Every scenario saves a screenshot in OUTDIR.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [scenario, url, outdir, ...pairs] = process.argv.slice(2);
const params = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
mkdirSync(outdir, { recursive: true });

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.WARD_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  timeout: 30000,
});
const findings = {};
const newPage = async (width = 1280, height = 800) => {
  // The test CA is not in the browser's store; the TLS side of ward is tested elsewhere.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  return { context, page, errors };
};

async function login(page, name, password) {
  await page.goto(url + "/");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#banner-after").waitFor();
  const after = await page.locator("#banner-after").innerText();
  await page.getByRole("button", { name: "I acknowledge" }).click();
  return after;
}

const scenarios = {
  // The banner before the login form and again after login, acknowledged.
  async login() {
    const { page, errors } = await newPage();
    await page.goto(url + "/");
    await page.locator("#banner-before").waitFor();
    findings.before = await page.locator("#banner-before").innerText();
    await page.screenshot({ path: join(outdir, "login.png") });
    findings.after = await login(page, params.user, params.password);
    await page.getByRole("heading", { name: "System > Security > Settings" }).waitFor();
    findings.landing = await page.locator("h1").innerText();
    await page.screenshot({ path: join(outdir, "settings.png") });
    // Logout ends the session on the server: the old cookie no longer works, even with the key.
    const cookies = await page.context().cookies();
    findings.key = await page.evaluate(() => sessionStorage.getItem("ward-session-key"));
    // The cookie alone is not a session (another service on this host name may see it).
    const alone = await page.request.get(url + "/api/v1/session", { headers: { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; ") } });
    findings.cookie_alone = alone.status();
    const withKey = await page.request.get(url + "/api/v1/session", {
      headers: { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; "), "X-Ward-Session-Key": findings.key } });
    findings.cookie_and_key = withKey.status();
    findings.cookie = cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }));
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    const replay = await page.request.get(url + "/api/v1/session", {
      headers: { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; "), "X-Ward-Session-Key": findings.key || "" },
    });
    findings.after_logout = replay.status();
    findings.errors = errors;
  },

  // Two administrators edit the same TLS context: the second save is refused as a conflict.
  async conflict() {
    const a = await newPage();
    const b = await newPage();
    await login(a.page, params.user, params.password);
    await login(b.page, params.user, params.password);
    const context = params.context;
    for (const p of [a.page, b.page]) {
      await p.goto(url + "/#/tls-contexts/" + encodeURIComponent(context));
      await p.locator("#context-save").waitFor();
    }
    // A selects the first available cipher and saves.
    await a.page.locator("#ciphers-available").selectOption({ index: 0 });
    await a.page.locator("#ciphers-add").click();
    await a.page.locator("#context-save").click();
    await a.page.locator(".result .notice").waitFor();
    findings.first = await a.page.locator(".result .notice").innerText();
    // B, still on the old version, removes a selected cipher and saves.
    await b.page.locator("#ciphers-selected").selectOption({ index: 0 });
    await b.page.locator("#ciphers-remove").click();
    await b.page.locator("#context-save").click();
    await b.page.locator(".result .notice.bad").waitFor();
    findings.second = await b.page.locator(".result .notice.bad").innerText();
    await b.page.screenshot({ path: join(outdir, "conflict.png") });
    await a.page.evaluate(() => window.scrollTo(0, 0));
    await a.page.screenshot({ path: join(outdir, "tls-context.png"), fullPage: true });
    findings.errors = [...a.errors, ...b.errors];
  },

  // An auditor sees no Save button, and the API refuses what the page does not offer.
  async auditor() {
    const { page, errors } = await newPage();
    await login(page, params.user, params.password);
    const seen = {};
    for (const [hash, heading] of [["#/settings", "System > Security > Settings"], ["#/peer-subjects", "TLS Peer Subjects"],
                                   ["#/tls-contexts/" + encodeURIComponent(params.context), "TLS Context Configuration"],
                                   ["#/security-mode", "Security mode"], ["#/certificates", "Certificates"]]) {
      await page.goto(url + "/" + hash);
      await page.locator("h1", { hasText: heading }).waitFor();
      await page.locator(".card").first().waitFor();
      seen[hash] = await page.getByRole("button", { name: /^(Save|Add|Upload|Delete.*|Check)$/ }).count();
    }
    findings.buttons = seen;
    await page.goto(url + "/#/audit");
    await page.locator("h1", { hasText: "Audit" }).waitFor();
    findings.chain = await page.locator(".notice").first().innerText();
    await page.screenshot({ path: join(outdir, "audit.png") });
    // The same request the admin's Save makes, from the auditor's session.
    const status = await page.evaluate(async () => {
      const r = await fetch("/api/v1/security/xmpp", { method: "PUT", headers: { "Content-Type": "application/json", "If-Match": "x",
                                                                            "X-Ward-Session-Key": sessionStorage.getItem("ward-session-key") },
                                                       body: JSON.stringify({ client_to_node_secure: false }) });
      return r.status;
    });
    findings.put_status = status;
    findings.errors = errors;
  },

  // Add New on TLS Peer Subjects (a duplicate shows the server's error beside the field), then
  // the subject and a cipher selected in a context on TLS Context Configuration, saved.
  async peer_subject() {
    const { page, errors } = await newPage();
    await login(page, params.user, params.password);
    await page.goto(url + "/#/peer-subjects");
    await page.getByLabel("Subject CN").fill(params.subject);
    await page.getByLabel("Description").fill("added in the console");
    await page.getByRole("button", { name: "Add" }).click();
    await page.locator(".result .notice").waitFor();
    findings.added = await page.locator(".result .notice").innerText();
    await page.getByLabel("Subject CN").fill(params.subject);
    await page.getByRole("button", { name: "Add" }).click();
    await page.locator("#new-subject-error", { hasText: "already" }).waitFor();
    findings.duplicate = await page.locator("#new-subject-error").innerText();
    await page.getByLabel("Search").fill(params.subject);
    findings.rows = await page.locator("tbody tr").count();
    await page.screenshot({ path: join(outdir, "peer-subjects.png"), fullPage: true });
    // TLS Context Configuration: Find, open, move with the keyboard-operable > buttons, Save.
    await page.goto(url + "/#/tls-contexts");
    await page.getByLabel("Find").fill(params.context.slice(0, 12));
    await page.getByRole("link", { name: params.context }).click();
    await page.locator("#context-save").waitFor();
    await page.locator("#subjects-available").selectOption(params.subject);
    await page.locator("#subjects-add").focus();
    await page.keyboard.press("Enter");
    await page.locator("#ciphers-available").selectOption(params.cipher);
    await page.locator("#ciphers-add").click();
    findings.mode_note = await page.locator("#cipher-mode-note").innerText();
    await page.locator("#context-save").click();
    await page.locator(".result .notice").waitFor();
    findings.saved = await page.locator(".result .notice").innerText();
    findings.selected_subjects = await page.locator("#subjects-selected option").allInnerTexts();
    findings.selected_ciphers = await page.locator("#ciphers-selected option").allInnerTexts();
    findings.errors = errors;
  },

  // A certificate uploaded into a trust store: what the import changed, then the subject in the
  // list and selected in the contexts that use the store.
  async upload() {
    const { page, errors } = await newPage();
    await login(page, params.user, params.password);
    await page.goto(url + "/#/certificates");
    await page.getByLabel("Trust store").selectOption(params.store);
    await page.locator("#pem-file").setInputFiles(params.pem);
    await page.waitForFunction(() => document.querySelector("#pem").value.includes("BEGIN CERTIFICATE"));
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator(".result .notice").waitFor();
    findings.changes = await page.locator(".result .notice").innerText();
    findings.listed = await page.locator("tbody tr").allInnerTexts();
    await page.screenshot({ path: join(outdir, "certificates.png"), fullPage: true });
    await page.goto(url + "/#/peer-subjects");
    await page.locator("tbody tr").first().waitFor();
    findings.subjects = await page.locator("tbody tr").allInnerTexts();
    await page.goto(url + "/#/tls-contexts/" + encodeURIComponent(params.context));
    await page.locator("#context-save").waitFor();
    findings.selected = await page.locator("#subjects-selected option").allInnerTexts();
    findings.errors = errors;
  },

  // Control Center: restart one listener.
  async restart() {
    const { page, errors } = await newPage();
    await login(page, params.user, params.password);
    await page.goto(url + "/#/control-center");
    await page.getByRole("button", { name: `Restart ${params.listener}` }).click();
    await page.locator(".result .notice").waitFor();
    findings.result = await page.locator(".result .notice").innerText();
    findings.rows = await page.locator("tbody tr").allInnerTexts();
    await page.screenshot({ path: join(outdir, "control-center.png"), fullPage: true });
    findings.errors = errors;
  },

  // The security mode page lists what the new mode forbids before anything is saved.
  async security_mode() {
    const { page, errors } = await newPage();
    await login(page, params.user, params.password);
    await page.goto(url + "/#/security-mode");
    await page.getByLabel("Security mode").selectOption(params.mode);
    await page.getByRole("button", { name: "Check" }).click();
    await page.locator(".out .notice").waitFor();
    findings.check = await page.locator(".out .notice").innerText();
    findings.save_enabled = await page.getByRole("button", { name: "Save" }).isEnabled();
    await page.screenshot({ path: join(outdir, "security-mode.png"), fullPage: true });
    findings.errors = errors;
  },

  // Every page at 400 px wide: nothing wider than the window, every control labelled.
  async narrow() {
    const { page, errors } = await newPage(400, 800);
    await login(page, params.user, params.password);
    const pagesSeen = {};
    for (const hash of ["#/settings", "#/peer-subjects", "#/tls-contexts/" + encodeURIComponent(params.context),
                        "#/certificates", "#/control-center", "#/security-mode", "#/audit"]) {
      await page.goto(url + "/" + hash);
      await page.locator("main h1").waitFor();
      await page.locator("main .card").first().waitFor();
      pagesSeen[hash] = await page.evaluate(() => {
        const unlabelled = [...document.querySelectorAll("main input, main select, main textarea")]
          .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")).map((el) => el.id || el.outerHTML);
        const unnamed = [...document.querySelectorAll("button")].filter((b) => !b.innerText.trim() && !b.getAttribute("aria-label")).length;
        return { overflow: document.documentElement.scrollWidth - window.innerWidth, unlabelled, unnamed };
      });
    }
    await page.goto(url + "/#/tls-contexts/" + encodeURIComponent(params.context));
    await page.locator("#context-save").waitFor();
    await page.screenshot({ path: join(outdir, "narrow-tls-context.png"), fullPage: true });
    findings.pages = pagesSeen;
    findings.errors = errors;
  },

  // The secure mode switched from the Settings page.
  async secure_mode() {
    const { page, errors } = await newPage(400, 800);
    await login(page, params.user, params.password);
    await page.goto(url + "/#/settings");
    const box = page.getByLabel("XMPP Client to IM/P Service Secure Mode");
    await box.waitFor();
    if (params.on === "true") await box.check(); else await box.uncheck();
    await page.getByRole("button", { name: "Save" }).click();
    await page.locator(".result .notice").waitFor();
    findings.notice = await page.locator(".result .notice").innerText();
    await page.screenshot({ path: join(outdir, `secure-mode-${params.on}.png`) });
    findings.errors = errors;
  },
};

let status = 0;
try {
  expect(scenarios[scenario], `a scenario named ${scenario}`);
  await scenarios[scenario]();
} catch (e) {
  console.error(String(e && e.stack || e));
  status = 1;
} finally {
  await browser.close();
}
console.log(JSON.stringify(findings));
process.exit(status);
