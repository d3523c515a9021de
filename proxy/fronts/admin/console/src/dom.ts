// SPDX-License-Identifier: Apache-2.0
// A tiny DOM builder: text goes in as text (never as HTML), so nothing from the server or the
// user can become markup.
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

export function notice(text: string, bad = false): HTMLElement {
  return h("div", { class: bad ? "notice bad" : "notice", role: bad ? "alert" : "status" }, text);
}

let nextId = 0;
export function uid(prefix: string): string {
  return `${prefix}-${++nextId}`;
}
