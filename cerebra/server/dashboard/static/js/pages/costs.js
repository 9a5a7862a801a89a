// Costs: spend by day (chart), by model, key, user and agent; the month's forecast with
// its interval; budgets, alerts and recommendations (GET /api/costs/…).

import { optional } from "../api.js";
import { barChart, lineChart } from "../charts.js";
import { clear, fmt, h, kv, notAvailable, panel, select, table } from "../dom.js";

const breakdown = (rows, currency) => table(rows || [], [{ key: "key", label: "Name", render: (r) => r.key || "(none)" },
  { key: "cost", label: "Cost", num: true, render: (r) => fmt.money(r.cost, currency) },
  { key: "requests", label: "Requests", num: true }, { key: "tokens", label: "Tokens", num: true }], { empty: "No spend yet." });

export async function render(main, _params, query) {
  const days = Number(query.get("days")) || 30;
  const [summary, forecast, budgets, alerts, recs] = await Promise.all([
    optional(`/api/costs/summary?days=${days}`), optional("/api/costs/forecast"), optional("/api/costs/budgets"),
    optional("/api/costs/alerts"), optional("/api/costs/recommendations")]);
  const currency = (summary && summary.currency) || "USD";
  const form = h("form.row", { "aria-label": "Period", novalidate: true },
    select("Period", "days", [["7", "7 days"], ["30", "30 days"], ["90", "90 days"]], String(days)),
    h("button", { type: "submit", text: "Show" }));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#/costs?days=${new FormData(form).get("days")}`; });
  const byDay = (summary && summary.by_day) || [];
  const dims = [["by_model", "By model"], ["by_key", "By API key"], ["by_user", "By user"], ["by_agent", "By agent"]];
  clear(main, h("h1", { text: "Costs" }), form,
    summary ? h("div", {},
      panel(`Spend by day (total ${fmt.money(summary.total, currency)})`,
        barChart(`Spend per day over the last ${days} days, ${currency}`, byDay.map((d) => ({ label: d.day.slice(5), value: d.cost }))),
        h("details", {}, h("summary", { text: "The days as a table" }), table(byDay.slice().reverse(), [{ key: "day", label: "Day" }, { key: "cost", label: "Cost", num: true, render: (r) => fmt.money(r.cost, currency) },
          { key: "requests", label: "Requests", num: true }, { key: "tokens", label: "Tokens", num: true }], { caption: "Spend per day", empty: "No spend yet." }))),
      h("div.grid.wide", {}, dims.map(([k, title]) => panel(title, breakdown(summary[k], currency))))) : panel("Spend", notAvailable("The cost ledger")),
    panel("Forecast for the month", forecast ? h("div", {},
      kv([["Month", forecast.month], ["Spent so far", fmt.money(forecast.spent, currency)], ["Forecast", fmt.money(forecast.forecast, currency)],
        ["Interval", `${fmt.money(forecast.low, currency)} – ${fmt.money(forecast.high, currency)} (${fmt.pct(forecast.level)})`], ["Method", forecast.method]]),
      lineChart("Spend so far and the month's forecast with its interval", [
        { name: "spent this month", points: cumulative(byDay, forecast) },
        { name: "forecast", dashed: true, points: forecastLine(byDay, forecast), band: forecastBand(byDay, forecast) }],
      { xFormat: (x) => new Date(x).toISOString().slice(5, 10), yMin: 0 })) : notAvailable("Forecasts")),
    panel("Budgets", budgets ? table(budgets.budgets || [], [{ key: "scope", label: "Scope" }, { key: "period", label: "Period" },
      { key: "limit", label: "Limit", num: true, render: (b) => fmt.money(b.limit, currency) },
      { key: "spent", label: "Spent", num: true, render: (b) => `${fmt.money(b.spent, currency)} (${fmt.pct(b.limit ? b.spent / b.limit : 0)})` },
      { key: "crossed", label: "Thresholds crossed", render: (b) => fmt.any(b.crossed) },
      { key: "resets_at", label: "Resets", render: (b) => fmt.time(b.resets_at) }], { caption: "Budgets", empty: "No budgets set." }) : notAvailable("Budgets")),
    panel("Alerts", alerts ? table(alerts.alerts || [], null, { caption: "Cost alerts", empty: "No alerts." }) : notAvailable("Cost alerts")),
    panel("Recommendations", recs ? (recs.recommendations || []).length
      ? h("ul", {}, recs.recommendations.map((r) => h("li", { text: r.text }))) : h("p.muted", { text: "No recommendations." })
      : notAvailable("Recommendations")));
}

function monthStart(month) {
  const [y, m] = String(month || "").split("-").map(Number);
  return Number.isFinite(y) && Number.isFinite(m) ? Date.UTC(y, m - 1, 1) : Date.now();
}

function monthEnd(month) {
  const [y, m] = String(month || "").split("-").map(Number);
  return Number.isFinite(y) && Number.isFinite(m) ? Date.UTC(y, m, 0) : Date.now();
}

/** The month's spend so far, day by day (the days of the forecast's month only). */
function cumulative(byDay, f) {
  const start = monthStart(f.month);
  let sum = 0;
  const points = [[start, 0]];
  for (const d of byDay) {
    const t = Date.parse(d.day);
    if (t < start) continue;
    sum += d.cost;
    points.push([t, sum]);
  }
  return points;
}

function lastDay(byDay, f) {
  const inMonth = byDay.map((d) => Date.parse(d.day)).filter((t) => t >= monthStart(f.month));
  return inMonth.length ? inMonth[inMonth.length - 1] : monthStart(f.month);
}

function forecastLine(byDay, f) {
  return [[lastDay(byDay, f), f.spent], [monthEnd(f.month), f.forecast]];
}

function forecastBand(byDay, f) {
  return [[lastDay(byDay, f), f.spent, f.spent], [monthEnd(f.month), f.low, f.high]];
}
