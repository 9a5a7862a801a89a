// The dashboard's shell: hash routes to page modules, the sign-in guard, the menu, and the
// 404 page for unknown routes and ids. Each page module exports render(main, params) and
// may return a cleanup function (closes its live streams when the page is left).

import { ApiError, api, session, toLogin } from "./api.js";
import { announce, clear, errorBox, h } from "./dom.js";

const PAGES = [
  // [pattern, module, title]
  [/^\/login$/, "login", "Sign in"],
  [/^\/query$/, "query", "Live query"],
  [/^\/memory$/, "memory", "Memory"],
  [/^\/memory\/([^/]+)$/, "memory", "Memory"],
  [/^\/agents$/, "agents", "Agents"],
  [/^\/agents\/([^/]+)$/, "agents", "Agent"],
  [/^\/missions$/, "missions", "Missions and teams"],
  [/^\/missions\/([^/]+)$/, "missions", "Mission"],
  [/^\/training$/, "training", "Training"],
  [/^\/training\/(jobs|datasets|kits|gate|promotions)$/, "training", "Training"],
  [/^\/training\/(jobs|datasets|gate)\/([^/]+)$/, "training", "Training"],
  [/^\/models$/, "models", "Models"],
  [/^\/costs$/, "costs", "Costs"],
  [/^\/drift$/, "drift", "Drift"],
  [/^\/traces$/, "traces", "Traces"],
  [/^\/traces\/([^/]+)$/, "traces", "Trace"],
  [/^\/audit$/, "audit", "Audit log"],
  [/^\/logs$/, "logs", "Logs"],
];

let cleanup = null;
let authOff = null; // null: not probed yet

function parse() {
  const raw = (location.hash || "#/query").slice(1) || "/query";
  const [path, query = ""] = raw.split("?");
  return { path: path === "/" ? "/query" : path, query: new URLSearchParams(query) };
}

async function signedIn() {
  if (session.token()) return true;
  if (authOff === null) {  // a server with auth off answers without credentials
    try { await api("/api/models"); authOff = true; } catch { authOff = false; }
  }
  return authOff;
}

export function notFound(main, what) {
  document.title = "Not found · Cerebra";
  clear(main, h("h1", { text: "Not found" }),
    h("p", { text: what || "There is no such page." }),
    h("p", {}, h("a", { href: "#/query", text: "Back to the dashboard" })));
}

function markNav(path) {
  const top = "#/" + path.split("/")[1];
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === top) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

let current = 0; // the route being shown; an older one finishing late is dropped
let moved = false; // the route changed after the first page (focus goes to the new page)

async function route() {
  const mine = ++current;
  const main = document.getElementById("main");
  if (cleanup) { try { cleanup(); } catch { /* already closed */ } cleanup = null; }
  // each route renders into its own view: a slower page left behind writes to a detached one
  const view = h("div.view");
  clear(main, view);
  const { path, query } = parse();
  const found = PAGES.find(([re]) => re.test(path));
  markNav(path);
  const who = document.getElementById("who");
  who.textContent = session.who();
  who.parentElement.hidden = !session.who();
  document.getElementById("logout").hidden = !session.token();
  if (!found) { notFound(view); return; }
  const [re, name, title] = found;
  if (name !== "login" && !(await signedIn())) { if (mine === current) toLogin(); return; }
  document.title = `${title} · Cerebra`;
  const params = re.exec(path).slice(1).map(decodeURIComponent);
  clear(view, h("p.muted", { text: "Loading…" }));
  try {
    const page = await import(`./pages/${name}.js`);
    const done = (await page.render(view, params, query)) || null;
    if (mine !== current) { if (done) done(); return; }
    cleanup = done;
    announce(`${title} loaded`);
    if (moved && name !== "login") main.focus({ preventScroll: true }); // keyboard and screen readers start at the page
    moved = false;
  } catch (err) {
    if (mine !== current) return;
    if (err instanceof ApiError && err.status === 404) notFound(view, err.message);
    else if (err instanceof ApiError && err.status === 401) toLogin();
    else clear(view, h("h1", { text: title }), errorBox(err));
  }
}

function setupMenu() {
  const toggle = document.getElementById("nav-toggle");
  const nav = document.getElementById("nav");
  const narrow = window.matchMedia("(max-width: 700px)");
  const close = () => { nav.dataset.open = "false"; toggle.setAttribute("aria-expanded", "false"); };
  toggle.addEventListener("click", () => {
    const open = nav.dataset.open !== "true";
    nav.dataset.open = String(open);
    toggle.setAttribute("aria-expanded", String(open));
  });
  nav.addEventListener("click", (e) => { if (e.target.closest("a") && narrow.matches) close(); });
  close();
  document.getElementById("logout").addEventListener("click", () => {
    session.clear();
    location.hash = "#/login";
  });
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
}

setupMenu();
window.addEventListener("hashchange", () => { moved = true; route(); });
route();
