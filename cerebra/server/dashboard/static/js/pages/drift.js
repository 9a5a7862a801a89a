// Drift: each scope's signals (embedding, score, latency, feedback) as a chart of the series
// with the test's statistic and p-value; the alerts; "check now" runs the detector.

import { api, optional } from "../api.js";
import { lineChart } from "../charts.js";
import { clear, errorBox, fmt, h, notAvailable, panel, table } from "../dom.js";

function reportView(r) {
  const points = (r.series || []).map((p) => [typeof p.t === "number" ? p.t * 1000 : Date.parse(p.t), p.value]);
  return h("section.panel", { "aria-label": `${r.scope} ${r.signal}` },
    h("h3", {}, `${r.scope} · ${r.signal} `, h(`span.badge.${r.drifted ? "bad" : "ok"}`, { text: r.drifted ? "drifted" : "stable" })),
    h("p.muted", { text: `${r.test}: statistic ${fmt.num(r.statistic, 4)}, p = ${fmt.num(r.p_value, 4)} · reference n=${(r.reference || {}).n ?? "–"}, recent n=${(r.recent || {}).n ?? "–"}` }),
    lineChart(`${r.signal} of ${r.scope} over time`, [{ name: r.signal, points }], { xFormat: (x) => new Date(x).toISOString().slice(5, 10) }));
}

export async function render(main) {
  const reports = h("div");
  const status = h("div");
  const [got, alerts] = await Promise.all([optional("/api/drift"), optional("/api/drift/alerts")]);
  const show = (data) => {
    if (!data) return clear(reports, notAvailable("Drift detection"));
    const all = data.reports || [];
    const charted = all.filter((r) => (r.series || []).length);
    const quiet = all.filter((r) => !(r.series || []).length);
    clear(reports, all.length ? null : h("p.muted", { text: "No drift reports yet." }), charted.map(reportView),
      quiet.length ? h("section.panel", { "aria-label": "Signals without a series" }, h("h3", { text: "Signals without a series yet" }),
        table(quiet, [{ key: "scope", label: "Scope" }, { key: "signal", label: "Signal" }, { key: "test", label: "Test" },
          { key: "reference", label: "Reference n", num: true, render: (r) => fmt.num((r.reference || {}).n) },
          { key: "recent", label: "Recent n", num: true, render: (r) => fmt.num((r.recent || {}).n) },
          { key: "drifted", label: "Drifted", render: (r) => (r.drifted ? "yes" : "no") }], { caption: "Signals without a series" })) : null);
  };
  const check = h("button", { type: "button", text: "Check now", on: { click: async () => {
    check.disabled = true;
    try { show(await api("/api/drift/check", { method: "POST" })); clear(status); } catch (err) { clear(status, errorBox(err)); }
    check.disabled = false;
  } } });
  clear(main, h("h1", { text: "Drift" }),
    panel("Alerts", alerts ? table(alerts.alerts || [], [{ key: "created_at", label: "When", render: (a) => fmt.time(a.created_at) },
      { key: "scope", label: "Scope" }, { key: "signal", label: "Signal" }, { key: "message", label: "Alert" },
      { key: "p_value", label: "p", num: true, render: (a) => fmt.num(a.p_value, 4) }], { caption: "Drift alerts", empty: "No drift alerts." }) : notAvailable("Drift alerts")),
    panel("Signals", h("p", {}, check), status, reports));
  show(got);
}
