// Traces: the newest traces a page at a time, and one trace's span tree.

import { api, optional } from "../api.js";
import { clear, fmt, h, kv, notAvailable, panel, table } from "../dom.js";
import { spanTree } from "./spans.js";

async function list(main, query) {
  const before = query.get("before");
  const got = await optional(`/api/traces?limit=50${before ? `&before=${encodeURIComponent(before)}` : ""}`);
  clear(main, h("h1", { text: "Traces" }), panel("Recent traces", got ? h("div", {},
    table(got.traces || [], [{ key: "trace_id", label: "Trace", render: (t) => h("a", { href: `#/traces/${encodeURIComponent(t.trace_id)}`, text: t.name || t.trace_id }) },
      { key: "started_at", label: "Started", render: (t) => fmt.time(t.started_at) }, { key: "duration_ms", label: "Duration", num: true, render: (t) => fmt.ms(t.duration_ms) },
      { key: "model", label: "Model", wide: true }, { key: "spans", label: "Spans", num: true, wide: true }, { key: "status", label: "Status" }], { caption: "Traces", empty: "No traces kept yet." }),
    h("div.pager", {}, before ? h("a", { href: "#/traces", text: "Newest" }) : null,
      got.next ? h("a", { href: `#/traces?before=${encodeURIComponent(got.next)}`, text: "Older" }) : null)) : notAvailable("Traces")));
}

async function one(main, id) {
  const trace = await api(`/api/traces/${encodeURIComponent(id)}`);
  clear(main, h("h1", { text: "Trace" }), h("p", {}, h("a", { href: "#/traces", text: "← All traces" })),
    panel("Trace", kv([["Id", trace.trace_id], ["Spans", (trace.spans || []).length]])), panel("Span tree", spanTree(trace.spans || [])));
}

export async function render(main, params, query) {
  return params[0] ? one(main, params[0]) : list(main, query);
}
