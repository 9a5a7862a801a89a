// The span tree of a trace (nested by parent, each with its share of the trace's time as a
// bar) and the policy decisions found in it. Shared by the live query and trace pages.

import { fmt, h, kv, table } from "../dom.js";

export function spanTree(spans) {
  if (!spans.length) return h("p.muted", { text: "The trace has no spans." });
  const total = Math.max(1, ...spans.map((s) => (s.start_ms || 0) + (s.duration_ms || 0)));
  const children = new Map();
  const ids = new Set(spans.map((s) => s.span_id));
  for (const s of spans) {
    const parent = s.parent_id && ids.has(s.parent_id) ? s.parent_id : "";
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(s);
  }
  const node = (s) => {
    const attrs = Object.entries(s.attributes || {});
    const kids = children.get(s.span_id) || [];
    return h("li", {},
      h("details", {},
        h("summary", {}, h("span.span-bar", { "width%": Math.max(0.5, ((s.duration_ms || 0) / total) * 30), "aria-hidden": "true" }),
          `${s.name} · ${fmt.ms(s.duration_ms)} (at ${fmt.num(s.start_ms, 1)} ms)`,
          s.status && s.status !== "ok" && s.status !== "OK" && s.status !== "unset" ? h("span.badge.bad", { text: s.status }) : null),
        attrs.length ? kv(attrs.map(([k, v]) => [k, v])) : null),
      kids.length ? h("ul", {}, kids.map(node)) : null);
  };
  return h("ul.spans", { "aria-label": "Spans" }, (children.get("") || []).map(node));
}

export function policyRows(spans, routing) {
  const rows = [];
  for (const s of spans) {
    if (!/policy|guard|govern|limit/i.test(s.name)) continue;
    rows.push({ step: s.name, decision: s.status || "ok", details: s.attributes || {} });
  }
  if (routing && routing.reason) rows.push({ step: "router", decision: routing.chosen || routing.served_by, details: { reason: routing.reason } });
  return table(rows, [{ key: "step", label: "Step" }, { key: "decision", label: "Decision" },
    { key: "details", label: "Details", render: (r) => fmt.any(r.details) }],
  { empty: "No policy applied to this request (or the trace is not available)." });
}
