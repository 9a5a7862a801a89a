// DOM helpers: elements built from data (never HTML parsed from data), tables, formatting,
// and the server's field errors shown next to their fields.

import { ApiError } from "./api.js";

/** h("tag.class#id", {attrs, on: {click}, text, "width%": n}, ...children): "width%" sets
 * the element's width through the CSSOM (the CSP allows that; a style attribute it would not) */
export function h(spec, attrs = {}, ...children) {
  const [, tag, rest] = /^([a-z0-9]+)(.*)$/i.exec(spec);
  const ns = ["svg", "g", "path", "line", "rect", "text", "circle", "polyline", "title"].includes(tag)
    ? "http://www.w3.org/2000/svg" : null;
  const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const m of rest.matchAll(/([.#])([\w-]+)/g)) {
    if (m[1] === ".") el.classList.add(m[2]); else el.id = m[2];
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "text") el.textContent = v;
    else if (k === "width%") el.style.width = `${v}%`;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) { el.replaceChildren(); return append(el, children); }

export const fmt = {
  num(v, digits = 2) {
    if (v === null || v === undefined || v === "") return "–";
    const n = Number(v);
    if (!Number.isFinite(n)) return String(v);
    return Number.isInteger(n) ? n.toLocaleString("en") : n.toLocaleString("en", { maximumFractionDigits: digits });
  },
  money(v, currency = "USD") {
    if (v === null || v === undefined) return "–";
    const n = Number(v);
    const text = n === 0 || Math.abs(n) >= 1 ? n.toFixed(2) : Math.abs(n) >= 0.01 ? n.toFixed(4) : n.toPrecision(2);
    return `${currency === "USD" ? "$" : currency + " "}${text}`;
  },
  time(v) {
    if (v === null || v === undefined || v === "") return "–";
    const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
    return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace("T", " ").slice(0, 19);
  },
  pct(v) { return v === null || v === undefined ? "–" : `${(Number(v) * 100).toFixed(1)} %`; },
  ms(v) { return v === null || v === undefined ? "–" : `${fmt.num(v, 1)} ms`; },
  short(s, n = 120) { s = s === null || s === undefined ? "" : String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; },
  any(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "object") return fmt.short(JSON.stringify(v), 160);
    if (typeof v === "number") return fmt.num(v, 4);
    return fmt.short(v, 240);
  },
};

/** A table: columns [{key, label, num, wide, render(row)}] (wide: hidden on a phone);
 * an empty list says so. */
export function table(rows, columns, { caption, empty = "Nothing yet." } = {}) {
  if (!rows || !rows.length) return h("p.muted", { text: empty });
  const cols = columns || Object.keys(rows[0]).slice(0, 8).map((key) => ({ key, label: key }));
  return h("table", {},
    caption ? h("caption.sr-only", { text: caption }) : null,
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: cellClass(c), text: c.label || c.key })))),
    h("tbody", {}, rows.map((row) => h("tr", {}, cols.map((c) => {
      const value = c.render ? c.render(row) : fmt.any(row[c.key]);
      return h("td", { class: cellClass(c) }, value);
    })))));
}

function cellClass(c) {
  return [c.num ? "num" : "", c.wide ? "hide-phone" : ""].join(" ").trim() || null;
}

export function kv(pairs) {
  return h("dl.kv", {}, pairs.filter(Boolean).map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v instanceof Node ? v : fmt.any(v))]));
}

export function panel(title, ...children) {
  const id = "p-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section.panel", { "aria-labelledby": id }, h("h2", { id, text: title }), children);
}

/** An error box: the message only (never a stack trace). */
export function errorBox(err) {
  const text = err instanceof ApiError ? err.message : (err && err.message) || String(err);
  return h("p.error", { role: "alert", text });
}

export function notAvailable(what) {
  return h("p.muted", { text: `${what}: not available (not on this server, or not for this sign-in).` });
}

/** Show the server's 422/400 field errors next to the form's fields (by name). Returns
 * true when at least one was placed; otherwise the caller shows the general message. */
export function showFieldErrors(form, err) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!(err instanceof ApiError)) return false;
  const details = err.details && err.details.length ? err.details : [{ field: err.field, message: err.message }];
  let placed = false;
  for (const d of details) {
    if (!d.field) continue;
    const name = String(d.field).split(/[.[]/)[0];
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    const id = `${input.id || name}-error`;
    if (!form.querySelector(`#${CSS.escape(id)}`)) {
      input.insertAdjacentElement("afterend", h("p.field-error", { id, role: "alert", text: d.message }));
    }
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    placed = true;
  }
  return placed;
}

/** A labelled input: field("Prompt", {name, type, ...}) */
export function field(label, attrs = {}, tag = "input") {
  const id = attrs.id || `f-${attrs.name}`;
  return h("div.field", {}, h("label", { for: id, text: label }), h(tag, { ...attrs, id }));
}

export function select(label, name, options, value) {
  const id = `f-${name}`;
  return h("div.field", {}, h("label", { for: id, text: label }),
    h("select", { id, name }, options.map(([v, t]) => h("option", { value: v, selected: v === value, text: t }))));
}

export function announce(text) {
  const live = document.getElementById("live");
  if (live) live.textContent = text;
}

/** Load data into a container: a "Loading…" line, then render(data) or the error. */
export async function load(container, fetcher, render) {
  clear(container, h("p.muted", { text: "Loading…" }));
  try {
    const data = await fetcher();
    clear(container, render(data));
  } catch (err) {
    clear(container, errorBox(err));
  }
}

/** Columns for the keys wanted that the rows have (an API's shape may grow or differ). */
export function columns(rows, wanted) {
  const have = new Set(rows.flatMap((r) => Object.keys(r || {})));
  const title = (key) => key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, " ");
  const cols = wanted.filter((c) => have.has(typeof c === "string" ? c : c.key))
    .map((c) => (typeof c === "string" ? { key: c, label: title(c) } : c));
  return cols.length ? cols : [...have].slice(0, 6).map((key) => ({ key, label: title(key) }));
}

/** Tabs as links (hash routes), the current one marked. */
export function tabs(label, items, current) {
  return h("nav.tabs", { "aria-label": label }, items.map(([href, text]) =>
    h("a", { href, text, "aria-current": href === current ? "page" : null })));
}
