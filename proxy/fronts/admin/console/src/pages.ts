// SPDX-License-Identifier: Apache-2.0
// The console's pages. Each reads what it shows from the API with its ETag, and sends changes
// with If-Match: a 412 says "changed by someone else" and shows the new data, never overwrites.
import { api, ApiError, ConflictError, segment } from "./api";
import { h, notice, uid } from "./dom";

export interface Session {
  account: string;
  role: string;
  banner: string;
  password_change_required: boolean;
}

type Page = (root: HTMLElement, session: Session, args: string[]) => Promise<void>;

const CONFLICT = "The configuration was changed by someone else since this page read it. The page now shows the current settings; make your change again.";

function describe(x: unknown): string {
  if (x instanceof ApiError) {
    const d = x.body && Array.isArray(x.body.diagnostics) ? x.body.diagnostics : [];
    const lines = d.map((v: any) => (typeof v === "string" ? v : v.text || v.message));
    return [x.message, ...lines].join("\n");
  }
  return String(x);
}

// Runs a change; on 412, the notice says so and the page shows the current data.
async function change(root: HTMLElement, out: HTMLElement, f: () => Promise<string>, reload: () => Promise<void>) {
  try {
    const message = await f();
    await reload();
    root.querySelector(".result")?.replaceChildren(notice(message));
  } catch (x) {
    if (x instanceof ConflictError) {
      await reload();
      root.querySelector(".result")?.replaceChildren(notice(CONFLICT, true));
      return;
    }
    out.replaceChildren(notice(describe(x), true));
  }
}

function reloadText(r: any): string {
  if (!r || !r.reload) return "";
  return r.reload.applied ? ` ward reloaded (configuration generation ${r.reload.generation}).` : ` Reload failed: ${r.reload.message}`;
}

// --- System > Security > Settings -------------------------------------------------------------

const settings: Page = async (root, session) => {
  const isAdmin = session.role === "admin";
  const draw = async () => {
    const { data, etag } = await api.get<Record<string, boolean>>("/api/v1/security/xmpp");
    const boxes: Record<string, HTMLInputElement> = {};
    const labels: [string, string][] = [
      ["client_to_node_secure", "XMPP Client to IM/P Service Secure Mode"],
      ["router_to_router_secure", "XMPP Router-to-Router Secure Mode"],
      ["web_client_secure", "Web Client to IM/P Service Secure Mode"],
    ];
    const form = h("form", { "aria-label": "Security settings" });
    for (const [key, text] of labels) {
      const id = uid(key);
      boxes[key] = h("input", { type: "checkbox", id, name: key, checked: data[key], disabled: !isAdmin });
      form.append(h("div", { class: "row" }, boxes[key], h("label", { for: id }, text)));
    }
    const out = h("div", { class: "out" });
    if (isAdmin) {
      form.append(h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Save")));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const body: Record<string, boolean> = {};
        for (const [key] of labels) body[key] = boxes[key].checked;
        void change(root, out, async () => {
          const r = (await api.put<any>("/api/v1/security/xmpp", body, etag)).data;
          const listeners = (r.affected_listeners || []).join(", ") || "none";
          return `Saved. Listeners affected: ${listeners}.${reloadText(r)} Established sessions keep the mode they started with.`;
        }, draw);
      });
    }
    root.querySelector(".body")!.replaceChildren(form, out);
  };
  root.replaceChildren(h("h1", {}, "System > Security > Settings"), h("div", { class: "result" }), h("section", { class: "card body" }));
  await draw();
};

// --- TLS Peer Subjects --------------------------------------------------------------------------

const peerSubjects: Page = async (root, session) => {
  const isAdmin = session.role === "admin";
  const search = h("input", { type: "search", id: "subject-search", placeholder: "subject or description" });
  const tableWrap = h("div", { class: "table-wrap" });
  const out = h("div", { class: "out" });
  let rows: any[] = [];
  let etag = "";
  const drawTable = () => {
    const q = search.value.toLowerCase();
    const body = h("tbody");
    for (const p of rows.filter((r) => !q || r.subject.toLowerCase().includes(q) || r.description.toLowerCase().includes(q))) {
      const del = isAdmin
        ? h("button", { type: "button", "aria-label": `Delete ${p.subject}`, onclick: () => void change(root, out, async () => {
            await api.del(`/api/v1/peer-subjects/${segment(p.subject)}`, etag);
            return `Deleted ${p.subject}.`;
          }, load) }, "Delete")
        : null;
      body.append(h("tr", {}, h("td", {}, p.subject), h("td", {}, p.description), h("td", {}, p.selected_by.join(", ")), h("td", {}, del)));
    }
    tableWrap.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Subject CN"), h("th", {}, "Description"),
      h("th", {}, "Selected by"), h("th", {}, isAdmin ? "Action" : ""))), body));
  };
  const load = async () => {
    const r = await api.get<any>("/api/v1/peer-subjects");
    rows = r.data.peer_subjects;
    etag = r.etag;
    drawTable();
  };
  search.addEventListener("input", drawTable);
  let addNew: HTMLElement | null = null;
  if (isAdmin) {
    const subject = h("input", { type: "text", id: "new-subject", required: true });
    const description = h("input", { type: "text", id: "new-description" });
    const subjectError = h("div", { class: "field-error", id: "new-subject-error", role: "alert" });
    const form = h("form", { "aria-label": "Add New peer subject" },
      h("label", { for: "new-subject" }, "Subject CN"), subject, subjectError,
      h("label", { for: "new-description" }, "Description"), description,
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Add")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      subjectError.textContent = "";
      void (async () => {
        try {
          await api.post("/api/v1/peer-subjects", { subject: subject.value, description: description.value }, etag);
          root.querySelector(".result")!.replaceChildren(notice(`Added ${subject.value}.`));
          subject.value = "";
          description.value = "";
          await load();
        } catch (x) {
          if (x instanceof ConflictError) {
            await load();
            root.querySelector(".result")!.replaceChildren(notice(CONFLICT, true));
          } else {
            subjectError.textContent = describe(x);
          }
        }
      })();
    });
    addNew = h("section", { class: "card" }, h("h2", {}, "Add New"), form);
  }
  root.replaceChildren(h("h1", {}, "TLS Peer Subjects"), h("div", { class: "result" }),
    h("section", { class: "card" }, h("label", { for: "subject-search" }, "Search"), search, tableWrap, out), addNew);
  await load();
};

// --- TLS Context Configuration ------------------------------------------------------------------

function dualList(title: string, idPrefix: string, available: [string, string][], selected: [string, string][], enabled: boolean) {
  const make = (id: string, items: [string, string][]) => {
    const s = h("select", { id, multiple: true, disabled: !enabled });
    for (const [value, text] of items) s.append(h("option", { value }, text));
    return s;
  };
  const left = make(`${idPrefix}-available`, available);
  const right = make(`${idPrefix}-selected`, selected);
  const move = (from: HTMLSelectElement, to: HTMLSelectElement) => {
    for (const o of Array.from(from.selectedOptions)) to.append(o);
  };
  const box = h("div", {},
    h("h2", {}, title),
    h("div", { class: "dual" },
      h("div", {}, h("label", { for: left.id }, "Available"), left),
      h("div", { class: "moves" },
        h("button", { type: "button", id: `${idPrefix}-add`, "aria-label": `Select the chosen ${title}`, disabled: !enabled, onclick: () => move(left, right) }, ">"),
        h("button", { type: "button", id: `${idPrefix}-remove`, "aria-label": `Remove the chosen ${title}`, disabled: !enabled, onclick: () => move(right, left) }, "<")),
      h("div", {}, h("label", { for: right.id }, "Selected"), right)));
  return { box, values: () => Array.from(right.options).map((o) => o.value) };
}

const tlsContexts: Page = async (root, session, args) => {
  if (args.length && args[0]) return tlsContext(root, session, args[0]);
  const find = h("input", { type: "search", id: "context-find", placeholder: "context name" });
  const list = h("ul", {});
  const { data } = await api.get<any>("/api/v1/tls-contexts");
  const draw = () => {
    const q = find.value.toLowerCase();
    list.replaceChildren(...data.tls_contexts.filter((c: any) => !q || c.name.toLowerCase().includes(q))
      .map((c: any) => h("li", {}, h("a", { href: `#/tls-contexts/${encodeURIComponent(c.name)}` }, c.name),
        h("span", { class: "muted" }, ` certificate ${c.certificate}, verify ${c.verify_peer}`))));
  };
  find.addEventListener("input", draw);
  root.replaceChildren(h("h1", {}, "TLS Context Configuration"),
    h("section", { class: "card" }, h("label", { for: "context-find" }, "Find"), find, list));
  draw();
};

async function tlsContext(root: HTMLElement, session: Session, name: string) {
  const isAdmin = session.role === "admin";
  const draw = async () => {
    const [{ data, etag }, mode] = await Promise.all([
      api.get<any>(`/api/v1/tls-contexts/${segment(name)}`),
      api.get<any>("/api/v1/security/mode"),
    ]);
    const cipherText = (c: any) => (c.name === c.iana_name ? c.name : `${c.name} (${c.iana_name})`);
    const subjects = dualList("peer subjects", "subjects",
      data.peer_subjects.available.map((s: string) => [s, s]), data.peer_subjects.selected.map((s: string) => [s, s]), isAdmin);
    const ciphers = dualList("TLS ciphers", "ciphers",
      data.ciphers.available.map((c: any) => [c.name, cipherText(c)]), data.ciphers.selected.map((c: any) => [c.name, cipherText(c)]), isAdmin);
    const out = h("div", { class: "out" });
    const save = isAdmin
      ? h("button", { class: "primary", type: "button", id: "context-save", onclick: () => void change(root, out, async () => {
          const r = (await api.put<any>(`/api/v1/tls-contexts/${segment(name)}`, { peer_subjects: subjects.values(), ciphers: ciphers.values() }, etag)).data;
          return `Saved ${name}.${reloadText(r)}`;
        }, draw) }, "Save")
      : null;
    root.querySelector(".body")!.replaceChildren(
      h("p", { class: "muted" }, `Certificate ${data.certificate}; trust store ${data.trust_store || "none"}; verify peer ${data.verify_peer}; ${data.min_version} to ${data.max_version}.`),
      subjects.box,
      h("p", { class: "muted", id: "cipher-mode-note" },
        `Only ciphers that ${mode.data.running_mode} mode allows are offered; the others are forbidden by the security mode.` +
        (data.ciphers_default ? " No ciphers are chosen yet: the selected list shows the mode's defaults." : "")),
      ciphers.box,
      h("div", { class: "row" }, save), out);
  };
  root.replaceChildren(h("h1", {}, `TLS Context Configuration: ${name}`), h("p", {}, h("a", { href: "#/tls-contexts" }, "Find another context")),
    h("div", { class: "result" }), h("section", { class: "card body" }));
  await draw();
}

// --- certificates -------------------------------------------------------------------------------

const certificates: Page = async (root, session) => {
  const isAdmin = session.role === "admin";
  const stores = (await api.get<any>("/api/v1/trust-stores")).data.trust_stores as any[];
  const store = h("select", { id: "store" });
  for (const s of stores) store.append(h("option", { value: s.name }, `${s.name} (used by ${s.used_by.join(", ") || "no context"})`));
  const list = h("div", { class: "table-wrap" });
  const out = h("div", { class: "out" });
  const load = async () => {
    if (!store.value) return;
    const { data } = await api.get<any>(`/api/v1/trust-stores/${segment(store.value)}/certificates`);
    const body = h("tbody");
    for (const c of data.certificates)
      body.append(h("tr", {}, h("td", {}, c.subject), h("td", {}, c.issuer), h("td", {}, c.not_after), h("td", {}, c.ca ? "CA" : "peer")));
    list.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Subject"), h("th", {}, "Issuer"), h("th", {}, "Expires"), h("th", {}, "Kind"))), body));
  };
  store.addEventListener("change", () => void load());
  let upload: HTMLElement | null = null;
  if (isAdmin) {
    const pem = h("textarea", { id: "pem", placeholder: "-----BEGIN CERTIFICATE-----" });
    const file = h("input", { type: "file", id: "pem-file", accept: ".pem,.crt,.cer" });
    file.addEventListener("change", async () => {
      if (file.files && file.files[0]) pem.value = await file.files[0].text();
    });
    const form = h("form", { "aria-label": "Upload a certificate" },
      h("label", { for: "pem-file" }, "Certificate file (PEM)"), file,
      h("label", { for: "pem" }, "or paste it"), pem,
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Upload")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void change(root, out, async () => {
        const { etag } = await api.get("/api/v1/security/mode");
        const r = (await api.post<any>(`/api/v1/trust-stores/${segment(store.value)}/certificates`, pem.value, etag, "application/x-pem-file")).data;
        pem.value = "";
        return r.changes.length ? `${r.summary}: ${r.changes.join("; ")}.${reloadText(r)}` : r.summary;
      }, load);
    });
    upload = h("section", { class: "card" }, h("h2", {}, "Upload into the trust store"), form, out);
  }
  root.replaceChildren(h("h1", {}, "Certificates"), h("div", { class: "result" }),
    h("section", { class: "card" }, h("label", { for: "store" }, "Trust store"), store, list), upload);
  await load();
};

// --- Control Center -----------------------------------------------------------------------------

const controlCenter: Page = async (root) => {
  const out = h("div", { class: "out" });
  const load = async () => {
    const { data } = await api.get<any>("/api/v1/listeners");
    const body = h("tbody");
    for (const l of data.listeners) {
      body.append(h("tr", { "data-listener": l.name },
        h("td", {}, l.name), h("td", {}, l.protocol), h("td", {}, l.bind ? `listening on ${l.bind}` : "closed"),
        h("td", {}, String(l.active_sessions)), h("td", {}, String(l.handshakes)), h("td", {}, String(l.refusals)),
        h("td", {}, h("button", { type: "button", "aria-label": `Restart ${l.name}`, onclick: () => void change(root, out, async () => {
          const r = (await api.post<any>(`/api/v1/listeners/${segment(l.name)}/restart`)).data;
          return `Restarted ${l.name}: ${r.reload.message}`;
        }, load) }, "Restart"))));
    }
    const last = data.last_reload;
    root.querySelector(".body")!.replaceChildren(
      h("p", {}, `Node ${data.node}, configuration generation ${data.generation}. Last reload: ${last.message} (${last.time}).`),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", {}, "Protocol"),
        h("th", {}, "State"), h("th", {}, "Sessions"), h("th", {}, "Handshakes"), h("th", {}, "Refusals"), h("th", {}, "Action"))), body)),
      h("div", { class: "row" }, h("button", { type: "button", id: "reload-all", onclick: () => void change(root, out, async () => {
        const r = (await api.post<any>("/api/v1/reload")).data;
        return `Reloaded: ${r.reload.message}`;
      }, load) }, "Reload all")), out);
  };
  root.replaceChildren(h("h1", {}, "Control Center"), h("div", { class: "result" }), h("section", { class: "card body" }));
  await load();
};

// --- security mode ------------------------------------------------------------------------------

const securityMode: Page = async (root, session) => {
  const isAdmin = session.role === "admin";
  const draw = async () => {
    const { data, etag } = await api.get<any>("/api/v1/security/mode");
    const select = h("select", { id: "mode", disabled: !isAdmin });
    for (const m of ["standard", "fips", "enhanced", "common-criteria"]) select.append(h("option", { value: m, selected: m === data.mode }, m));
    const out = h("div", { class: "out" });
    const save = h("button", { class: "primary", type: "button", id: "mode-save", disabled: true }, "Save");
    const check = h("button", { type: "button", id: "mode-check", disabled: !isAdmin, onclick: async () => {
      save.disabled = true;
      try {
        const r = (await api.put<any>("/api/v1/security/mode", { mode: select.value, check_only: true }, etag)).data;
        out.replaceChildren(notice(`${select.value} mode accepts this configuration.${r.warnings && r.warnings.length ? " Warnings: " + r.warnings.join("; ") : ""}`));
        save.disabled = false;
      } catch (x) {
        const body = x instanceof ApiError ? x.body : null;
        out.replaceChildren(notice(describe(x), true), body && body.suggestion ? h("p", {}, body.suggestion) : null);
        if (x instanceof ConflictError) await draw();
      }
    } }, "Check");
    save.addEventListener("click", () => void change(root, out, async () => {
      const r = (await api.put<any>("/api/v1/security/mode", { mode: select.value }, etag)).data;
      return r.note;
    }, draw));
    root.querySelector(".body")!.replaceChildren(
      h("p", {}, `Written: ${data.mode}. Running: ${data.running_mode}.${data.restart_pending ? " A restart is pending." : ""}`),
      h("label", { for: "mode" }, "Security mode"), select,
      isAdmin ? h("div", { class: "row" }, check, save) : null,
      h("p", { class: "muted" }, "A change is checked against every certificate, context and cipher first, and takes effect at restart."),
      out);
  };
  root.replaceChildren(h("h1", {}, "Security mode"), h("div", { class: "result" }), h("section", { class: "card body" }));
  await draw();
};

// --- audit --------------------------------------------------------------------------------------

const audit: Page = async (root) => {
  const [{ data }, verdict] = await Promise.all([api.get<any>("/api/v1/audit?limit=1000"), api.get<any>("/api/v1/audit/verify")]);
  const filter = h("input", { type: "search", id: "audit-filter", placeholder: "account, action, resource or result" });
  const wrap = h("div", { class: "table-wrap" });
  const draw = () => {
    const q = filter.value.toLowerCase();
    const body = h("tbody");
    for (const r of [...data.records].reverse()) {
      const text = `${r.account} ${r.action} ${r.resource} ${r.result} ${r.source}`.toLowerCase();
      if (q && !text.includes(q)) continue;
      body.append(h("tr", {}, h("td", {}, r.time), h("td", {}, r.account), h("td", {}, r.source), h("td", {}, r.action),
        h("td", {}, r.resource), h("td", {}, r.result)));
    }
    wrap.replaceChildren(h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Account"), h("th", {}, "Source"),
      h("th", {}, "Action"), h("th", {}, "Resource"), h("th", {}, "Result"))), body));
  };
  filter.addEventListener("input", draw);
  const v = verdict.data;
  root.replaceChildren(h("h1", {}, "Audit"),
    v.ok ? notice(`The hash chain is intact (${v.records} records).`) : notice(`The hash chain is broken at line ${v.broken_line}: ${v.why}`, true),
    h("section", { class: "card" }, h("label", { for: "audit-filter" }, "Filter"), filter, wrap));
  draw();
};

export const pages: Record<string, Page> = {
  settings,
  "peer-subjects": peerSubjects,
  "tls-contexts": tlsContexts,
  certificates,
  "control-center": controlCenter,
  "security-mode": securityMode,
  audit,
};
