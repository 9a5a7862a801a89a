// The API client: the session's token from sessionStorage, JSON errors as ApiError (with
// the field the server names), 401 -> back to the login page remembering where we were,
// and server-sent events read over fetch (so the Authorization header goes with them).

const KEY = "cerebra.token";
const WHO = "cerebra.who";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.type = err.type || "";
    this.field = err.field || "";
    this.details = err.details || [];
  }
}

export const session = {
  token: () => sessionStorage.getItem(KEY),
  who: () => sessionStorage.getItem(WHO) || "",
  set(token, who) { sessionStorage.setItem(KEY, token); sessionStorage.setItem(WHO, who); },
  clear() { sessionStorage.removeItem(KEY); sessionStorage.removeItem(WHO); },
};

/** Back to the login page; the page wanted stays in the URL (#/login?next=…). */
export function toLogin() {
  session.clear();
  if (location.hash.startsWith("#/login")) return; // already there (another request's 401)
  const here = location.hash;
  location.hash = "#/login" + (here ? "?next=" + encodeURIComponent(here) : "");
}

function headers(extra, json) {
  const h = { Accept: "application/json", ...extra };
  const token = session.token();
  if (token) h.Authorization = "Bearer " + token;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function failure(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (res.status === 401 && session.token()) toLogin();
  return new ApiError(res.status, body);
}

/** fetch JSON; `body` (an object) is sent as JSON; throws ApiError on a non-2xx answer. */
export async function api(path, { method = "GET", body, headers: extra = {}, signal } = {}) {
  const res = await fetch(path, {
    method, signal, headers: headers(extra, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json();
}

/** A form POST (application/x-www-form-urlencoded), as /token takes. */
export async function postForm(path, fields) {
  const res = await fetch(path, {
    method: "POST", headers: { Accept: "application/json",
      "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** GET, or null when this server has no such endpoint (404) or this sign-in may not call
 * it (403): the page says "not available" in its place. */
export async function optional(path) {
  try {
    return await api(path);
  } catch (e) {
    if (e instanceof ApiError && [403, 404, 405].includes(e.status)) return null;
    throw e;
  }
}

/** Read server-sent events from a GET or POST; onEvent(name, data) per event (data parsed as
 * JSON when it is). Resolves when the stream ends; abort with `signal`. */
export async function sse(path, onEvent, { method = "GET", body, headers: extra = {}, signal } = {}) {
  const res = await fetch(path, {
    method, signal, headers: { ...headers(extra, body !== undefined), Accept: "text/event-stream" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  const type = res.headers.get("content-type") || "";
  if (!type.startsWith("text/event-stream")) { onEvent("message", await res.json()); return; }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      dispatch(block, onEvent);
    }
  }
  if (buffer.trim()) dispatch(buffer, onEvent);
}

function dispatch(block, onEvent) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  const text = data.join("\n");
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* plain text */ }
  onEvent(name, parsed);
}
