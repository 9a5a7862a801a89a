// Training: jobs with live progress (the jobs API's server-sent events) and loss curves,
// datasets, kits, the gate's reports, and promotions with rollback.

import { api, optional, sse } from "../api.js";
import { lineChart } from "../charts.js";
import { announce, clear, columns, errorBox, field, fmt, h, kv, load, notAvailable, panel, showFieldErrors, table, tabs } from "../dom.js";

const TABS = [["#/training/jobs", "Jobs"], ["#/training/datasets", "Datasets"], ["#/training/kits", "Kits"],
  ["#/training/gate", "Gate reports"], ["#/training/promotions", "Promotions"]];
const stateBadge = (s) => h(`span.badge.${s === "succeeded" ? "ok" : s === "failed" ? "bad" : "warn"}`, { text: s });

async function jobs(signal) {
  const got = await optional("/api/v1/jobs");
  if (!got) return notAvailable("Background jobs");
  const cells = new Map(); // job id -> [state cell, progress cell], updated live
  const node = table(got.jobs, [{ key: "id", label: "Job", render: (j) => h("a", { href: `#/training/jobs/${encodeURIComponent(j.id)}`, text: j.name || j.id }) },
    { key: "kind", label: "Kind", wide: true }, { key: "state", label: "State", render: (j) => live(cells, j.id, 0, stateBadge(j.state)) },
    { key: "progress", label: "Progress", num: true, render: (j) => live(cells, j.id, 1, fmt.pct(j.progress)) },
    { key: "created_at", label: "Created", render: (j) => fmt.time(j.created_at) }], { caption: "Jobs", empty: "No jobs yet." });
  for (const j of got.jobs.filter((x) => x.state === "running" || x.state === "queued").slice(0, 10)) {
    sse(`/api/v1/jobs/${encodeURIComponent(j.id)}/events`, (event, data) => {
      const [state, progress] = cells.get(j.id);
      clear(state, stateBadge(data.state));
      progress.textContent = fmt.pct(data.progress);
    }, { signal }).catch(() => { /* the list stays as loaded */ });
  }
  return node;
}

function live(cells, id, i, content) {
  const span = h("span", {}, content);
  if (!cells.has(id)) cells.set(id, []);
  cells.get(id)[i] = span;
  return span;
}

function lossPoints(reports) {
  return reports.filter((r) => r && Number.isFinite(r.loss)).map((r, i) => [Number.isFinite(r.step) ? r.step : i, r.loss]);
}

async function job(main, id) {
  const info = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
  const run = await optional(`/api/v1/training/runs/${encodeURIComponent(id)}`).catch(() => null);
  const reports = run && Array.isArray(run.progress) ? run.progress.slice() : [];
  if (!reports.length && info.metrics && Number.isFinite(info.metrics.loss)) reports.push(info.metrics); // the last report
  const bar = h("progress", { max: 1, value: info.progress || 0, id: "job-progress", "aria-label": "Progress" });
  const facts = h("div", { "aria-live": "polite" });
  const chart = h("div");
  const state = { info };
  const draw = () => {
    const i = state.info;
    bar.value = i.progress || 0;
    const m = i.metrics || {};
    clear(facts, kv([["State", stateBadge(i.state)], ["Progress", h("span", { id: "job-progress-text", text: fmt.pct(i.progress) })],
      ["Step", m.step !== undefined ? `${m.step} / ${m.total ?? "?"}` : "–"], ["Loss", fmt.num(m.loss, 4)],
      ["ETA", m.eta_s !== undefined && m.eta_s !== null ? `${fmt.num(m.eta_s, 0)} s` : "–"], ["Message", i.message || "–"],
      i.error ? ["Error", i.error] : null]));
    clear(chart, lineChart("Training loss by step", [{ name: "loss", points: lossPoints(reports) }], { yMin: 0 }),
      !run && reports.length === 1 && i.state !== "running" ? h("p.muted", { text: "This job keeps only its last report (a training run keeps them all)." }) : null);
  };
  const controller = new AbortController();
  const cancel = h("button.danger", { type: "button", text: "Cancel job", on: { click: async () => {
    try { await api(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" }); } catch (err) { facts.append(errorBox(err)); }
  } } });
  clear(main, h("h1", { text: `Job ${info.name || id}` }), tabs("Training sections", TABS, "#/training/jobs"),
    panel("Progress", bar, facts, info.state === "running" || info.state === "queued" ? cancel : null), panel("Loss", chart),
    panel("Result", h("pre", { id: "job-result", text: info.result === null ? "–" : JSON.stringify(info.result, null, 2) })));
  draw();
  if (!["succeeded", "failed", "cancelled"].includes(info.state)) {
    sse(`/api/v1/jobs/${encodeURIComponent(id)}/events`, (event, data) => {
      if (event === "progress") {
        state.info = { ...state.info, ...data };
        const m = data.metrics || {};
        if (Number.isFinite(m.loss)) reports.push(m);
      } else if (event === "end") {
        state.info = data;
        document.getElementById("job-result")?.replaceChildren(JSON.stringify(data.result, null, 2));
        cancel.remove();
        announce(`Job ${data.state}`);
      }
      draw();
    }, { signal: controller.signal }).catch((err) => { if (err.name !== "AbortError") facts.append(errorBox(err)); });
  }
  return () => controller.abort();
}

async function datasets() {
  const got = await optional("/api/v1/datasets");
  if (!got) return notAvailable("Datasets");
  const rows = got.datasets || [];
  return table(rows, [{ key: "name", label: "Dataset", render: (d) => h("a", { href: `#/training/datasets/${encodeURIComponent(d.name)}`, text: d.name }) },
    { key: "kind", label: "Kind" }, { key: "task", label: "Task", wide: true }, { key: "latest_version", label: "Version", num: true },
    { key: "rows", label: "Rows", num: true }, { key: "updated_at", label: "Updated", wide: true, render: (d) => fmt.time(d.updated_at) }],
  { caption: "Datasets", empty: "No datasets yet." });
}

async function dataset(name) {
  const got = await api(`/api/v1/datasets/${encodeURIComponent(name)}`);
  const { versions = [], ...fields } = got;
  return h("div", {}, kv(Object.entries(fields)), h("h2", { text: "Versions" }),
    table(versions, [{ key: "version", label: "Version", num: true }, { key: "rows", label: "Rows", num: true },
      { key: "content_hash", label: "Content", wide: true, render: (v) => fmt.short(v.content_hash, 14) },
      { key: "report", label: "Curation", render: (v) => fmt.any(v.report) }, { key: "created_at", label: "Created", render: (v) => fmt.time(v.created_at) }],
    { caption: "Versions" }));
}

async function kits() {
  const got = await optional("/api/v1/kits/browse");
  if (!got) return notAvailable("Kits");
  return table(got.kits || [], columns(got.kits || [], ["name", "task", "description", "version", "origin"]), { caption: "Kits", empty: "No kits." });
}

async function gate() {
  const got = await optional("/api/v1/gate/reports");
  if (!got) return notAvailable("Gate reports");
  const rows = got.reports || [];
  return table(rows, [{ key: "id", label: "Report", render: (r) => h("a", { href: `#/training/gate/${encodeURIComponent(r.id)}`, text: r.id }) },
    { key: "task", label: "Task" }, { key: "candidate", label: "Candidate" }, { key: "baseline", label: "Baseline", wide: true },
    { key: "decision", label: "Decision", render: (r) => h(`span.badge.${r.decision === "promote" ? "ok" : "bad"}`, { text: r.decision }) },
    { key: "gain", label: "Gain", num: true, render: (r) => fmt.num(r.gain, 3) }, { key: "p_value", label: "p", num: true, render: (r) => fmt.num(r.p_value, 4) },
    { key: "created_at", label: "When", wide: true, render: (r) => fmt.time(r.created_at) }],
  { caption: "Gate reports", empty: "No gate reports yet." });
}

async function report(id) {
  const got = await api(`/api/v1/gate/reports/${encodeURIComponent(id)}`);
  const { report: details = {}, reasons = [], ...fields } = got;
  return h("div", {}, kv(Object.entries(fields)),
    reasons.length ? h("div", {}, h("h3", { text: "Why it was refused" }), h("ul", {}, reasons.map((r) => h("li", { text: r })))) : null,
    h("h3", { text: "Report" }), h("pre", { text: JSON.stringify(details, null, 2) }));
}

async function promotions() {
  const got = await optional("/api/v1/models/versions");
  if (!got) return notAvailable("Model versions");
  const versions = got.versions || [];
  const names = Object.keys(got.history || {});
  const status = h("div");
  const form = h("form.row", { "aria-label": "Roll back a model", novalidate: true },
    h("div.field", {}, h("label", { for: "f-name", text: "Model" }), h("select", { id: "f-name", name: "name" }, names.map((n) => h("option", { value: n, text: n })))),
    field("Reason", { name: "reason" }), h("button.danger", { type: "submit", text: "Roll back", disabled: !names.length }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    showFieldErrors(form, null);
    try {
      const done = await api(`/api/v1/models/${encodeURIComponent(data.get("name"))}/rollback`, { method: "POST", body: { reason: String(data.get("reason") || "") } });
      clear(status, h("p.ok", { role: "status", text: `${done.serving} now serves ${done.base ? "its base model" : done.version && done.version.id}.` }));
    } catch (err) { showFieldErrors(form, err); clear(status, errorBox(err)); }
  });
  const report = (id) => (id ? h("a", { href: `#/training/gate/${encodeURIComponent(id)}`, text: "gate report" }) : "–");
  return h("div", {}, table(versions, [{ key: "name", label: "Name" }, { key: "id", label: "Version", render: (v) => fmt.short(v.id, 14) },
    { key: "base", label: "Base", wide: true }, { key: "state", label: "State" },
    { key: "gate_report_id", label: "Gate", render: (v) => report(v.gate_report_id) },
    { key: "created_at", label: "Created", wide: true, render: (v) => fmt.time(v.created_at) },
    { key: "promoted_at", label: "Promoted", render: (v) => fmt.time(v.promoted_at) }], { caption: "Versions", empty: "No versions yet." }),
    names.map((n) => h("div", {}, h("h3", { text: `Promotions of ${n}` }), table(got.history[n], [
      { key: "at", label: "When", render: (p) => fmt.time(p.at) }, { key: "action", label: "Action" },
      { key: "from_version", label: "From", render: (p) => fmt.short(p.from_version || "base", 14) },
      { key: "to_version", label: "To", render: (p) => fmt.short(p.to_version || "base", 14) },
      { key: "actor", label: "By", wide: true }, { key: "reason", label: "Reason", wide: true },
      { key: "forced", label: "Forced", wide: true, render: (p) => (p.forced ? "yes" : "") },
      { key: "report_id", label: "Gate", render: (p) => report(p.report_id) }], { caption: `Promotions of ${n}` }))),
    h("h3", { text: "Rollback" }), form, status);
}

export async function render(main, params) {
  const [section = "jobs", id] = params;
  if (section === "jobs" && id) return job(main, id);
  const body = h("div");
  const title = TABS.find(([href]) => href === `#/training/${section}`)[1];
  const controller = new AbortController(); // the jobs list's live streams
  clear(main, h("h1", { text: "Training" }), tabs("Training sections", TABS, `#/training/${section}`), panel(title, body));
  const make = { jobs: () => jobs(controller.signal), datasets: () => (id ? dataset(id) : datasets()), kits,
    gate: () => (id ? report(id) : gate()), promotions }[section];
  if (id) clear(body, await make()); // an unknown id: the 404 page
  else await load(body, make, (x) => x);
  return () => controller.abort();
}
