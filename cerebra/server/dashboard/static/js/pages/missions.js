// Missions (their runs and outcomes) and teams (ventures with roles and KPIs).

import { api, optional } from "../api.js";
import { clear, columns, fmt, h, kv, notAvailable, panel, table } from "../dom.js";

async function list(main) {
  const [missions, teams] = await Promise.all([optional("/api/missions"), optional("/api/teams")]);
  const ms = (missions && missions.missions) || [];
  const ts = (teams && teams.teams) || [];
  clear(main, h("h1", { text: "Missions and teams" }),
    panel("Missions", missions ? table(ms, [{ key: "name", label: "Mission", render: (m) => h("a", { href: `#/missions/${encodeURIComponent(m.name)}`, text: m.name }) },
      ...columns(ms, ["description", "summary", "source"]).filter((c) => c.key !== "name")], { caption: "Missions", empty: "No missions yet." }) : notAvailable("Missions")),
    panel("Teams", teams ? table(ts, columns(ts, ["name", "roles", "members", "kpi", "created_at"]), { caption: "Teams", empty: "No teams yet." }) : notAvailable("Teams")));
}

async function one(main, name) {
  const mission = await api(`/api/missions/${encodeURIComponent(name)}`);
  const { runs = [], ...fields } = mission;
  clear(main, h("h1", { text: `Mission ${name}` }), h("p", {}, h("a", { href: "#/missions", text: "← All missions" })),
    panel("Details", kv(Object.entries(fields))),
    panel("Runs", table(runs, columns(runs, ["id", "state", "status", "score", "passed", "started_at", "finished_at", "summary"])
      .map((c) => c.key.endsWith("_at") ? { ...c, render: (r) => fmt.time(r[c.key]) } : c), { caption: "Runs", empty: "No runs yet." })));
}

export async function render(main, params) {
  return params[0] ? one(main, params[0]) : list(main);
}
