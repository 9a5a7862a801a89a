// Logs: the server's log lines with filters (lowest level, logger, trace id, text), newest
// first a page at a time, tenant-scoped (GET /api/system/logs). A filter the server refuses
// is shown next to its field.

import { optional } from "../api.js";
import { clear, errorBox, field, fmt, h, notAvailable, panel, select, showFieldErrors, table } from "../dom.js";

const KEYS = ["level", "logger", "trace_id", "q", "before"];
const LEVELS = [["", "any"], ["debug", "debug"], ["info", "info"], ["warning", "warning"], ["error", "error"], ["critical", "critical"]];

function levelCell(r) {
  const level = String(r.level || "");
  const tone = /error|critical/i.test(level) ? "bad" : /warn/i.test(level) ? "warn" : "muted";
  return h(`span.${tone}`, { text: level });
}

export async function render(main, _params, query) {
  const params = new URLSearchParams();
  for (const k of KEYS) if (query.get(k)) params.set(k, query.get(k));
  const form = h("form.row", { "aria-label": "Filter logs", novalidate: true },
    select("Level", "level", LEVELS, query.get("level") || ""),
    field("Logger", { name: "logger", value: query.get("logger") || "" }), field("Trace id", { name: "trace_id", value: query.get("trace_id") || "" }),
    field("Text", { name: "q", type: "search", value: query.get("q") || "" }), h("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, String(v));
    location.hash = `#/logs?${next}`;
  });
  const records = h("div");
  clear(main, h("h1", { text: "Logs" }), h("section.panel", { "aria-label": "Filters" }, form), panel("Records", records));
  let got;
  try {
    got = await optional(`/api/system/logs?${params}&limit=100`);
  } catch (err) {
    showFieldErrors(form, err);
    clear(records, errorBox(err));
    return;
  }
  if (!got) { clear(records, notAvailable("Logs")); return; }
  const older = new URLSearchParams(params);
  if (got.next !== null && got.next !== undefined) older.set("before", got.next);
  clear(records, table(got.logs || [], [{ key: "ts", label: "When", render: (r) => fmt.time(r.ts) },
    { key: "level", label: "Level", render: levelCell },
    { key: "logger", label: "Logger", wide: true }, { key: "event", label: "Event", render: (r) => fmt.short(r.event, 200) },
    { key: "trace_id", label: "Trace", render: (r) => (r.trace_id ? h("a", { href: `#/traces/${encodeURIComponent(r.trace_id)}`, text: fmt.short(r.trace_id, 14) }) : "–") }],
  { caption: "Log records", empty: "No log records match." }),
  got.next !== null && got.next !== undefined ? h("div.pager", {}, h("a", { href: `#/logs?${older}`, text: "Older" })) : null);
}
