// The audit log: the chain's verification status (incremental: the entries after the prefix
// verified before; "Verify whole chain" walks all of it) and its entries a page at a time.

import { api } from "../api.js";
import { announce, clear, errorBox, fmt, h, kv, panel, table } from "../dom.js";

function lastFullText(last) {
  if (!last) return "never";
  return `${fmt.time(last.at)}: ${last.ok ? "ok" : "failed"} (${fmt.num(last.entries)} entries)`;
}

function verificationView(verify) {
  const scope = verify.mode === "full" ? "whole chain walked" : `entries after ${fmt.num(verify.verified_from)} walked (incremental)`;
  return [
    h("p", {}, h(`span.badge.${verify.ok ? "ok" : "bad"}`, { text: verify.ok ? "chain verified" : "chain broken" })),
    kv([
      ["Verified through", `entry ${fmt.num(verify.entries)} (${verify.mode === "full" ? "full" : "incremental"})`],
      ["This check", scope],
      ["Last full walk", lastFullText(verify.last_full)],
      ["Checkpoints", fmt.num(verify.checkpoints)], ["Head", fmt.short(verify.head, 24)],
      verify.fell_back && verify.mode === "full" ? ["Why whole chain", verify.fell_back] : null,
      verify.problem ? ["Problem", `entry ${verify.problem.seq}: ${verify.problem.kind}: ${verify.problem.message}`] : null]),
    verify.mode === "full" ? null
      : h("p.muted", { text: "An incremental check covers the entries added since the last verified one; a change to earlier entries shows only in a whole-chain walk." }),
  ];
}

export async function render(main, _params, query) {
  const after = Number(query.get("after")) || 0;
  const [verify, page] = await Promise.all([api("/api/audit/verify"), api(`/api/audit/entries?after=${after}&limit=50`)]);
  const entries = page.entries || [];
  const status = h("div", { "aria-live": "polite" }, verificationView(verify));
  const whole = h("button", { type: "button", text: "Verify whole chain", on: { click: async () => {
    whole.disabled = true;
    announce("Verifying the whole chain…");
    try {
      const done = await api("/api/audit/verify?full=true");
      clear(status, verificationView(done));
      announce(done.ok ? "Whole chain verified." : "The chain is broken.");
    } catch (err) { clear(status, errorBox(err)); }
    whole.disabled = false;
  } } });
  clear(main, h("h1", { text: "Audit log" }),
    panel("Verification", status, h("p", {}, whole)),
    panel("Entries", table(entries, [{ key: "seq", label: "#", num: true }, { key: "ts", label: "When", render: (e) => fmt.time(e.time ?? e.ts ?? e.created_at) },
      { key: "actor", label: "Who", render: (e) => e.actor ?? e.user_id ?? "–" }, { key: "action", label: "Action" },
      { key: "target", label: "Target", wide: true, render: (e) => fmt.short(e.target ?? e.resource ?? "", 40) }, { key: "outcome", label: "Outcome" }], { caption: "Audit entries", empty: "No entries." }),
    h("div.pager", {}, after ? h("a", { href: "#/audit", text: "First page" }) : null,
      page.next ? h("a", { href: `#/audit?after=${page.next}`, text: "Next page" }) : null)));
}
