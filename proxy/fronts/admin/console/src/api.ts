// SPDX-License-Identifier: Apache-2.0
// The admin API as the console uses it: same-origin fetches with the session cookie (the
// browser sends Origin on every change, which the API checks), JSON in and out, the ETag of
// each read kept for the change that follows it.

export class ApiError extends Error {
  constructor(public status: number, message: string, public body: any) {
    super(message);
  }
}

// 412: someone else changed the configuration since this page read it.
export class ConflictError extends ApiError {}

export interface Reply<T> {
  data: T;
  etag: string;
}

// The key this tab got at login: the cookie alone is not a session (other services on this host
// name may see cookies); every request carries the key too. Kept for the tab only.
const KEY = "ward-session-key";
export function setSessionKey(key: string | null) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const key = sessionStorage.getItem(KEY);
  const init: RequestInit = { method, credentials: "same-origin", headers: { ...headers, ...(key ? { "X-Ward-Session-Key": key } : {}) }, cache: "no-store" };
  if (body !== undefined) {
    if (typeof body === "string") {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["Content-Type"] = "application/json";
    }
  }
  const res = await fetch(path, init);
  const type = res.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await res.json() : await res.text();
  if (!res.ok) {
    const message = typeof data === "object" && data && data.error ? String(data.error) : `${res.status} ${res.statusText}`;
    if (res.status === 401 && path !== "/api/v1/session") onUnauthorized();
    if (res.status === 412) throw new ConflictError(res.status, message, data);
    throw new ApiError(res.status, message, data);
  }
  return { data: data as T, etag: res.headers.get("ETag") || "" };
}

export const api = {
  get: <T>(path: string) => call<T>("GET", path),
  post: <T>(path: string, body?: unknown, etag?: string, type?: string) =>
    call<T>("POST", path, body, { ...(etag ? { "If-Match": etag } : {}), ...(type ? { "Content-Type": type } : {}) }),
  put: <T>(path: string, body: unknown, etag?: string, type?: string) =>
    call<T>("PUT", path, body, { ...(etag ? { "If-Match": etag } : {}), ...(type ? { "Content-Type": type } : {}) }),
  del: <T>(path: string, etag?: string) => call<T>("DELETE", path, undefined, etag ? { "If-Match": etag } : {}),
};

export function segment(name: string): string {
  return encodeURIComponent(name);
}
