// Logs: the server's log records with filters (level, logger, trace id, text), tenant-scoped
// (GET /api/system/logs).

import { optional } from "../api.js";
import { clear, field, fmt, h, notAvailable, panel, select, table } from "../dom.js";

const KEYS = ["level", "logger", "trace_id", "q", "before"];

export async function render(main, _params, query) {
  const params = new URLSearchParams();
  for (const k of KEYS) if (query.get(k)) params.set(k, query.get(k));
  params.set("limit", "100");
  const got = await optional(`/api/system/logs?${params}`);
  const form = h("form.row", { "aria-label": "Filter logs", novalidate: true },
    select("Level", "level", [["", "any"], ["DEBUG", "debug"], ["INFO", "info"], ["WARNING", "warning"], ["ERROR", "error"]], query.get("level") || ""),
    field("Logger", { name: "logger", value: query.get("logger") || "" }), field("Trace id", { name: "trace_id", value: query.get("trace_id") || "" }),
    field("Text", { name: "q", type: "search", value: query.get("q") || "" }), h("button", { type: "submit", text: "Filter" }));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, String(v));
    location.hash = `#/logs?${next}`;
  });
  const rows = (got && got.logs) || [];
  const older = new URLSearchParams(params);
  if (got && got.next !== null && got.next !== undefined) older.set("before", got.next);
  older.delete("limit");
  clear(main, h("h1", { text: "Logs" }), h("section.panel", { "aria-label": "Filters" }, form),
    panel("Records", got ? h("div", {}, table(rows, [{ key: "ts", label: "When", render: (r) => fmt.time(r.ts) },
      { key: "level", label: "Level", render: (r) => h(`span.${/ERROR|CRITICAL/.test(r.level) ? "bad" : /WARN/.test(r.level) ? "warn" : "muted"}`, { text: r.level }) },
      { key: "logger", label: "Logger", wide: true }, { key: "event", label: "Event", render: (r) => fmt.short(r.event, 200) },
      { key: "trace_id", label: "Trace", render: (r) => (r.trace_id ? h("a", { href: `#/traces/${encodeURIComponent(r.trace_id)}`, text: fmt.short(r.trace_id, 14) }) : "–") }],
    { caption: "Log records", empty: "No log records match." }),
    got.next !== null && got.next !== undefined ? h("div.pager", {}, h("a", { href: `#/logs?${older}`, text: "Older" })) : null) : notAvailable("Logs")));
}
