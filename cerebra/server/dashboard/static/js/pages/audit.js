// The audit log: the chain's verification status and its entries a page at a time.

import { api } from "../api.js";
import { clear, fmt, h, kv, panel, table } from "../dom.js";

export async function render(main, _params, query) {
  const after = Number(query.get("after")) || 0;
  const [verify, page] = await Promise.all([api("/api/audit/verify"), api(`/api/audit/entries?after=${after}&limit=50`)]);
  const entries = page.entries || [];
  clear(main, h("h1", { text: "Audit log" }),
    panel("Verification", h("p", {}, h(`span.badge.${verify.ok ? "ok" : "bad"}`, { text: verify.ok ? "chain verified" : "chain broken" })),
      kv([["Entries", fmt.num(verify.entries)], ["Checkpoints", fmt.num(verify.checkpoints)], ["Head", fmt.short(verify.head, 24)],
        verify.problem ? ["Problem", `entry ${verify.problem.seq}: ${verify.problem.message}`] : null])),
    panel("Entries", table(entries, [{ key: "seq", label: "#", num: true }, { key: "ts", label: "When", render: (e) => fmt.time(e.time ?? e.ts ?? e.created_at) },
      { key: "actor", label: "Who", render: (e) => e.actor ?? e.user_id ?? "–" }, { key: "action", label: "Action" },
      { key: "target", label: "Target", wide: true, render: (e) => fmt.short(e.target ?? e.resource ?? "", 40) }, { key: "outcome", label: "Outcome" }], { caption: "Audit entries", empty: "No entries." }),
    h("div.pager", {}, after ? h("a", { href: "#/audit", text: "First page" }) : null,
      page.next ? h("a", { href: `#/audit?after=${page.next}`, text: "Next page" }) : null)));
}
