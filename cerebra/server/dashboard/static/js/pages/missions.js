// Missions (their prompts, runs and each agent's results) and teams (ventures: roles, the
// agent in each, KPI targets).

import { api, optional } from "../api.js";
import { clear, fmt, h, kv, notAvailable, panel, table } from "../dom.js";

const MAX_TEAMS = 20;

function runRows(runs) {
  return table(runs, [{ key: "started_at", label: "Started", render: (r) => fmt.time(r.started_at) },
    { key: "trigger", label: "Trigger" }, { key: "state", label: "State" },
    { key: "summary", label: "Results", render: (r) => Object.entries((r.summary || {}).agents || {})
      .map(([agent, a]) => `${agent}: ${a.passed}/${a.prompts} passed, mean ${fmt.num(a.mean_score, 2)}`).join("; ") || "–" }],
  { caption: "Runs", empty: "No runs yet." });
}

async function teamsView(names) {
  if (!names.length) return h("p.muted", { text: "No teams yet." });
  const teams = await Promise.all(names.slice(0, MAX_TEAMS).map((n) => optional(`/api/teams/${encodeURIComponent(n)}`)));
  return h("div", {}, teams.filter(Boolean).map((t) => h("div", {}, h("h3", { text: `Team ${t.name}` }),
    table(t.roles || [], [{ key: "role", label: "Role" }, { key: "agent_id", label: "Agent", render: (r) => r.agent_id ? h("a", { href: `#/agents/${encodeURIComponent(r.agent_id)}`, text: r.agent_id }) : "–" },
      { key: "kpi", label: "KPI" }, { key: "target", label: "Target", num: true }, { key: "window", label: "Window", num: true, wide: true },
      { key: "generation", label: "Generation", num: true, wide: true }], { caption: `Roles of ${t.name}` }))),
  names.length > MAX_TEAMS ? h("p.muted", { text: `and ${names.length - MAX_TEAMS} more` }) : null);
}

async function list(main) {
  const [missions, teams] = await Promise.all([optional("/api/missions"), optional("/api/teams")]);
  const ms = (missions && missions.missions) || [];
  const names = ((teams && teams.teams) || []).map((t) => (typeof t === "string" ? t : t.name));
  clear(main, h("h1", { text: "Missions and teams" }),
    panel("Missions", missions ? table(ms, [{ key: "name", label: "Mission", render: (m) => h("a", { href: `#/missions/${encodeURIComponent(m.name)}`, text: m.name }) },
      { key: "description", label: "Description", wide: true }, { key: "prompts", label: "Prompts", num: true, render: (m) => (m.prompts || []).length },
      { key: "agents", label: "Agents", render: (m) => (m.agents || []).join(", ") || "all" },
      { key: "pass_score", label: "Pass score", num: true }, { key: "daily", label: "Daily", wide: true, render: (m) => (m.daily ? "yes" : "no") }],
    { caption: "Missions", empty: "No missions yet." }) : notAvailable("Missions")),
    panel("Teams", teams ? await teamsView(names) : notAvailable("Teams")));
}

async function one(main, name) {
  const mission = await api(`/api/missions/${encodeURIComponent(name)}`);
  const { runs = [], prompts = [], ...fields } = mission;
  clear(main, h("h1", { text: `Mission ${name}` }), h("p", {}, h("a", { href: "#/missions", text: "← All missions" })),
    panel("Details", kv(Object.entries(fields))),
    panel("Prompts", table(prompts, [{ key: "prompt", label: "Prompt" }, { key: "check", label: "Check", render: (p) => (p.check ? `${p.check.kind}: ${p.check.expected}` : "the judge") }], { caption: "Prompts" })),
    panel("Runs", runRows(runs)));
}

export async function render(main, params) {
  return params[0] ? one(main, params[0]) : list(main);
}
