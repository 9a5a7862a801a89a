// Memory browser: the newest memories a page at a time (older/newer by created_at), search
// with each hit's signals (explain), filters by agent, user, session and tag; one memory's
// page to edit, delete and read its history.

import { api } from "../api.js";
import { announce, clear, errorBox, field, fmt, h, kv, load, panel, showFieldErrors, table } from "../dom.js";

const PAGE = 20;

function scope(data) {
  const out = {};
  for (const k of ["agent_id", "user_id", "session_id"]) if (data.get(k)) out[k] = String(data.get(k));
  return out;
}

function memoryRows(rows, withSignals) {
  const cols = [
    { key: "text", label: "Memory", render: (m) => h("a", { href: `#/memory/${encodeURIComponent(m.id)}`, text: fmt.short(m.text, 140) }) },
    { key: "tags", label: "Tags", wide: true, render: (m) => (m.tags || []).join(", ") },
    { key: "user_id", label: "User", wide: true },
    { key: "created_at", label: "Created", render: (m) => fmt.time(m.created_at) },
  ];
  if (withSignals) {
    cols.splice(1, 0, { key: "score", label: "Score", num: true, render: (m) => fmt.num(m.score, 3) },
      { key: "signals", label: "Why (signals)", wide: true, render: (m) => Object.entries(m.signals || {}).map(([k, v]) => `${k} ${fmt.num(v, 3)}`).join(" · ") });
  }
  return table(rows, cols, { caption: "Memories", empty: "No memories match." });
}

async function browser(main) {
  const results = h("div", { "aria-live": "polite" });
  const pager = h("div.pager");
  const cursors = []; // the cursor of each page after the first (the way back)
  const form = h("form.row", { "aria-label": "Search and filter memories", novalidate: true },
    field("Search", { name: "query", type: "search", placeholder: "words or a question" }),
    field("Agent", { name: "agent_id" }), field("User", { name: "user_id" }),
    field("Session", { name: "session_id" }), field("Tag", { name: "tag" }),
    h("button", { type: "submit", text: "Apply" }));
  const status = h("div");
  let filters = new FormData(form);

  // keyset paging, newest first (created_at, then id, as the API orders): a cursor is the
  // last row's created_at and the ids already shown at that same moment (a batch shares it)
  let asked = 0; // the newest page asked for; an older answer arriving late is dropped
  async function page(cursor) {
    const mine = ++asked;
    const skip = new Set(cursor ? cursor.ids : []);
    const body = { k: Math.min(1000, PAGE + skip.size + 1), ...scope(filters) };
    const where = {};
    if (cursor) where.created_at = { lte: cursor.at };
    if (filters.get("tag")) where.tags = { contains: String(filters.get("tag")) };
    if (Object.keys(where).length) body.filters = where; // keys are ANDed
    const got = await api("/api/memory/recent", { method: "POST", body });
    if (mine !== asked) return;
    const fetched = (got.memories || []).filter((m) => !skip.has(m.id));
    const rows = fetched.slice(0, PAGE);
    clear(results, memoryRows(rows, false));
    let older = null;
    if (fetched.length > PAGE) {
      const at = rows[rows.length - 1].created_at;
      const same = rows.filter((m) => m.created_at === at).map((m) => m.id);
      older = { at, ids: cursor && cursor.at === at ? [...cursor.ids, ...same] : same };
    }
    clear(pager,
      h("button.secondary", { type: "button", disabled: cursors.length === 0, text: "Newer",
        on: { click: () => { cursors.pop(); page(cursors.length ? cursors[cursors.length - 1] : null); } } }),
      h("span.muted", { text: `Page ${cursors.length + 1}` }),
      h("button.secondary", { type: "button", disabled: older === null, text: "Older",
        on: { click: () => { cursors.push(older); page(older); } } }));
    announce(`Page ${cursors.length + 1} of memories, ${rows.length} shown`);
  }

  async function search() {
    const body = { query: String(filters.get("query")), k: 50, explain: true, ...scope(filters) };
    if (filters.get("tag")) body.tags = [String(filters.get("tag"))];
    const mine = ++asked;
    const got = await api("/api/memory/search", { method: "POST", body });
    if (mine !== asked) return;
    clear(pager);
    clear(results, memoryRows(got.hits || [], true));
    announce(`${(got.hits || []).length} memories found`);
  }

  async function run() {
    clear(status);
    showFieldErrors(form, null);
    try {
      if (String(filters.get("query") || "").trim()) await search();
      else { cursors.length = 0; await page(null); }
    } catch (err) {
      showFieldErrors(form, err);
      clear(status, errorBox(err));
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); filters = new FormData(form); run(); });
  clear(main, h("h1", { text: "Memory" }), h("section.panel", { "aria-label": "Filters" }, form, status),
    h("section.panel", { "aria-label": "Memories" }, results, pager));
  await run();
}

async function one(main, id) {
  const memory = await api(`/api/memory/${encodeURIComponent(id)}`); // 404 -> the not-found page
  const status = h("div");
  const form = h("form.stack", { "aria-label": "Edit memory", novalidate: true },
    field("Text", { name: "text", rows: 4 }, "textarea"),
    field("Tags (comma separated)", { name: "tags", value: (memory.tags || []).join(", ") }),
    field("Importance (0 to 1)", { name: "importance", type: "number", step: "0.05", value: memory.importance }),
    h("div.row", {}, h("button", { type: "submit", text: "Save" }), " ",
      h("button.danger", { type: "button", text: "Delete", on: { click: remove } })), status);
  form.querySelector("[name=text]").value = memory.text;
  const history = h("div");
  async function remove() {
    if (!window.confirm("Delete this memory?")) return;
    try {
      await api(`/api/memory/${encodeURIComponent(id)}`, { method: "DELETE" });
      location.hash = "#/memory";
    } catch (err) { clear(status, errorBox(err)); }
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const raw = String(data.get("importance"));
    const body = { text: String(data.get("text")),
      tags: String(data.get("tags")).split(",").map((t) => t.trim()).filter(Boolean),
      importance: raw === "" ? null : Number(raw) };
    showFieldErrors(form, null);
    clear(status);
    try {
      await api(`/api/memory/${encodeURIComponent(id)}`, { method: "PATCH", body });
      clear(status, h("p.ok", { role: "status", text: "Saved." }));
      showHistory();
    } catch (err) {
      showFieldErrors(form, err);
      clear(status, errorBox(err));
    }
  });
  const showHistory = () => load(history, () => api(`/api/memory/${encodeURIComponent(id)}/history`), (got) => h("div", {},
    table(got.versions || [], [{ key: "version", label: "Version", num: true }, { key: "event", label: "Event" },
      { key: "text", label: "Text", render: (v) => fmt.short(v.text, 160) },
      { key: "importance", label: "Importance", num: true }], { caption: "History" }),
    got.validity && Object.keys(got.validity).length ? kv(Object.entries(got.validity)) : null));
  clear(main, h("h1", { text: "Memory" }), h("p", {}, h("a", { href: "#/memory", text: "← All memories" })),
    panel("Details", kv([["Id", memory.id], ["Agent", memory.agent_id], ["User", memory.user_id],
      ["Session", memory.session_id], ["Created", fmt.time(memory.created_at)], ["Source", memory.source]])),
    panel("Edit", form), panel("History", history));
  showHistory();
}

export async function render(main, params) {
  if (params[0]) return one(main, params[0]);
  return browser(main);
}
