// Agents and the ratings leaderboard (Elo with its interval, GET /api/ratings); one agent's
// page with its record and history.

import { api, optional } from "../api.js";
import { intervalChart } from "../charts.js";
import { clear, columns, fmt, h, kv, notAvailable, panel, table } from "../dom.js";

const link = (a) => h("a", { href: `#/agents/${encodeURIComponent(a.id)}`, text: a.name || a.id });

async function list(main) {
  const [agents, board] = await Promise.all([optional("/api/agents"), optional("/api/ratings")]);
  const rows = (agents && agents.agents) || [];
  const ratings = (board && board.ratings) || [];
  clear(main, h("h1", { text: "Agents" }),
    panel("Agents", agents ? table(rows, [{ key: "id", label: "Agent", render: link },
      ...columns(rows, ["title", "persona", "model", "created_at"]).map((c) => c.key === "created_at" ? { ...c, render: (a) => fmt.time(a.created_at) } : c)],
    { caption: "Agents", empty: "No agents yet." }) : notAvailable("Agents")),
    panel("Ratings leaderboard", board ? h("div", {},
      h("p.muted", { text: `${fmt.num(board.comparisons)} comparisons · intervals: ${board.intervals || "–"} (level ${fmt.pct(board.level)})` }),
      intervalChart("Elo rating of each contestant with its interval", ratings.map((r) => ({ label: r.contestant, value: r.elo, low: r.elo_low, high: r.elo_high }))),
      table(ratings, [{ key: "contestant", label: "Contestant" }, { key: "elo", label: "Elo", num: true, render: (r) => fmt.num(r.elo, 0) },
        { key: "elo_low", label: "Interval", num: true, render: (r) => `${fmt.num(r.elo_low, 0)} – ${fmt.num(r.elo_high, 0)}` },
        { key: "comparisons", label: "Comparisons", num: true }, { key: "wins", label: "Wins", num: true }],
      { caption: "Leaderboard", empty: "No rated comparisons yet." })) : notAvailable("Ratings")));
}

async function one(main, id) {
  const agent = await api(`/api/agents/${encodeURIComponent(id)}`);
  const { history = [], ...fields } = agent;
  clear(main, h("h1", { text: `Agent ${agent.name || agent.id}` }), h("p", {}, h("a", { href: "#/agents", text: "← All agents" })),
    panel("Details", kv(Object.entries(fields))),
    panel("History", table(history, null, { caption: "History", empty: "No history yet." })));
}

export async function render(main, params) {
  return params[0] ? one(main, params[0]) : list(main);
}
