// Live query: a prompt streamed through the whole prompt path (POST /api/llm/query with
// stream, header X-Cerebra-Trace: always), then what happened: the memories recalled with
// each signal's share of the score, the routing decision, the policy decisions, tokens,
// cost, latency and the span tree of the trace.

import { api, sse } from "../api.js";
import { clear, errorBox, field, fmt, h, kv, panel, showFieldErrors } from "../dom.js";
import { spanTree, policyRows } from "./spans.js";

function signalShares(signals) {
  const entries = Object.entries(signals || {}).filter(([, v]) => Number.isFinite(v));
  const total = entries.reduce((s, [, v]) => s + Math.abs(v), 0) || 1;
  return h("ul.signals", {}, entries.map(([name, v]) => {
    const share = Math.abs(v) / total;
    return h("li", {}, h("span.share", { "width%": Math.max(1, share * 60), "aria-hidden": "true" }),
      `${name}: ${fmt.pct(share)} (${fmt.num(v, 3)})`);
  }));
}

function memoriesView(memories) {
  if (!memories || !memories.length) return h("p.muted", { text: "No memories were recalled." });
  return h("ol.memories", {}, memories.map((m) => h("li", {},
    h("p", {}, h("a", { href: `#/memory/${encodeURIComponent(m.id)}`, text: fmt.short(m.text, 200) })),
    h("p.muted", { text: `score ${fmt.num(m.score, 3)} · ${m.source || ""}` }),
    signalShares(m.signals))));
}

function routingView(routing, model) {
  if (!routing) return kv([["Model", model], ["Decision", "no router: the default model answered"]]);
  return kv([["Served by", routing.served_by || model], ["Strategy", routing.strategy],
    ["Chosen", routing.chosen], ["Reason", routing.reason],
    ["Attempts", (routing.attempts || []).map((a) => `${a.model || a.name || "?"}${a.error ? " (" + a.error + ")" : ""}`).join(", ") || "–"],
    routing.decision_id ? ["Decision id", routing.decision_id] : null]);
}

async function traceView(box, traceId) {
  clear(box, h("p.muted", { text: "Loading the trace…" }));
  try {
    const trace = await api(`/api/traces/${encodeURIComponent(traceId)}`);
    clear(box, spanTree(trace.spans || []));
    return trace;
  } catch (err) {
    clear(box, err.status === 404 ? h("p.muted", { text: "The trace is not available (tracing is off or not there yet)." }) : errorBox(err));
    return null;
  }
}

export async function render(main) {
  const answer = h("div.answer", { "aria-live": "polite", "aria-busy": "false" });
  const details = h("div.details");
  const status = h("div");
  const form = h("form.stack", { "aria-label": "Ask", novalidate: true },
    field("Prompt", { name: "prompt", required: true, rows: 3 }, "textarea"),
    h("div.grid", {},
      field("Model (optional)", { name: "model", autocomplete: "off" }),
      field("User id (optional)", { name: "user_id", autocomplete: "off" }),
      field("Agent id (optional)", { name: "agent_id", autocomplete: "off" })),
    h("div", {}, h("label", {}, h("input", { type: "checkbox", name: "memory", checked: true, class: "inline" }), " Use memory")),
    h("div", {}, h("button", { type: "submit", text: "Ask" }), " ",
      h("button.secondary", { type: "button", text: "Stop", hidden: true, on: { click: () => controller && controller.abort() } })), status);
  let controller = null;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = { prompt: String(data.get("prompt") || ""), stream: true, memory: data.get("memory") === "on" };
    if (data.get("model")) body.model = data.get("model");
    if (data.get("user_id")) body.user_id = data.get("user_id");
    if (data.get("agent_id")) body.agent_id = data.get("agent_id");
    if (controller) controller.abort();
    controller = new AbortController();
    showFieldErrors(form, null);
    clear(status); clear(details); answer.textContent = "";
    answer.setAttribute("aria-busy", "true");
    const button = form.querySelector("button[type=submit]");
    const stop = form.querySelector("button[type=button]");
    button.disabled = true;
    stop.hidden = false;
    let final = null;
    try {
      await sse("/api/llm/query", (event, payload) => {
        if (event === "answer" || (event === "message" && payload && payload.answer !== undefined)) final = payload;
        else if (payload && typeof payload.text === "string") answer.textContent += payload.text;
      }, { method: "POST", body, headers: { "X-Cerebra-Trace": "always" }, signal: controller.signal });
    } catch (err) {
      if (err.name !== "AbortError") { showFieldErrors(form, err); clear(status, errorBox(err)); }
    } finally {
      button.disabled = false;
      stop.hidden = true;
      answer.setAttribute("aria-busy", "false");
    }
    if (!final) return;
    answer.textContent = final.answer;
    const usage = final.usage || {};
    const traceBox = h("div");
    const policyBox = h("div", {}, h("p.muted", { text: "Waiting for the trace…" }));
    clear(details,
      panel("Figures", kv([["Model", final.model], ["Finish", final.finish_reason],
        ["Prompt tokens", fmt.num(usage.prompt_tokens)], ["Completion tokens", fmt.num(usage.completion_tokens)],
        ["Cost", final.cost_usd === null || final.cost_usd === undefined ? "–" : fmt.money(final.cost_usd)],
        ["Latency", fmt.ms(final.latency_ms)],
        ["Trace", h("a", { href: `#/traces/${encodeURIComponent(final.trace_id)}`, text: final.trace_id })]])),
      panel("Memories recalled", memoriesView(final.memories)),
      panel("Routing decision", routingView(final.routing, final.model)),
      panel("Policy decisions", policyBox),
      panel("Span tree", traceBox));
    const trace = await traceView(traceBox, final.trace_id);
    clear(policyBox, policyRows(trace ? trace.spans || [] : [], final.routing));
  });
  clear(main, h("h1", { text: "Live query" }), h("section.panel", { "aria-label": "Ask a question" }, form),
    panel("Answer", answer), details);
  return () => { if (controller) controller.abort(); };
}
