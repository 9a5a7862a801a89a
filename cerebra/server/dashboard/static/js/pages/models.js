// The model catalog with health: what is served (healthy, in flight, default), the
// catalog's entries and recent failures.

import { api } from "../api.js";
import { clear, columns, fmt, h, panel, table } from "../dom.js";

export async function render(main) {
  const got = await api("/api/models");
  const served = got.models || [];
  const catalog = Array.isArray(got.catalog) ? got.catalog : (got.catalog && (got.catalog.models || got.catalog.entries)) || [];
  const failures = Array.isArray(got.failures) ? got.failures : Object.entries(got.failures || {}).map(([model, error]) => ({ model, error }));
  clear(main, h("h1", { text: "Models" }),
    panel("Served models", table(served, [{ key: "name", label: "Model" },
      { key: "healthy", label: "Health", render: (m) => h(`span.badge.${m.healthy ? "ok" : "bad"}`, { text: m.healthy ? "healthy" : "unhealthy" }) },
      { key: "detail", label: "Detail" }, { key: "in_flight", label: "In flight", num: true },
      { key: "default", label: "Default", render: (m) => (m.default ? "yes" : "") }], { caption: "Served models" })),
    panel("Catalog", catalog.length ? table(catalog, columns(catalog, ["name", "backend", "kind", "source", "size", "license", "status"]), { caption: "Catalog" })
      : h("pre", { text: JSON.stringify(got.catalog, null, 2) })),
    panel("Failures", table(failures, null, { caption: "Failures", empty: "No failures." })),
    h("p.muted", { text: `Default model: ${got.default || "–"} · checked ${fmt.time(Date.now() / 1000)}` }));
}
