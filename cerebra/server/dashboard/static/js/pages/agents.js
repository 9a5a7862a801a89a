// Agents and the ratings leaderboard (Elo with its interval, GET /api/ratings); one agent's
// page with its record and history.

import { api, optional } from "../api.js";
import { intervalChart } from "../charts.js";
import { clear, fmt, h, kv, notAvailable, panel, table } from "../dom.js";

const link = (a) => h("a", { href: `#/agents/${encodeURIComponent(a.id)}`, text: a.name || a.id });

async function list(main) {
  const [agents, board] = await Promise.all([optional("/api/agents"), optional("/api/ratings")]);
  const rows = (agents && agents.agents) || [];
  const ratings = (board && board.ratings) || [];
  clear(main, h("h1", { text: "Agents" }),
    panel("Agents", agents ? table(rows, [{ key: "id", label: "Agent", render: link },
      { key: "title", label: "Title" }, { key: "traits", label: "Traits", wide: true, render: (a) => (a.traits || []).join(", ") },
      { key: "n", label: "Outcomes", num: true },
      { key: "mean_score", label: "Mean score", num: true, render: (a) => fmt.num(a.mean_score, 3) },
      { key: "lower_bound", label: "Interval", num: true, wide: true, render: (a) => `${fmt.num(a.lower_bound, 2)} – ${fmt.num(a.upper_bound, 2)}` },
      { key: "created_at", label: "Created", wide: true, render: (a) => fmt.time(a.created_at) }],
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
