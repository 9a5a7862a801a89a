// Sign in: a password (POST /token), an API key, or a wallet (nonce, then the signature of
// its challenge: from a browser wallet when one is present, else pasted). The page wanted
// before (#/login?next=…) is opened after.

import { ApiError, api, postForm, session } from "../api.js";
import { clear, errorBox, field, h, showFieldErrors } from "../dom.js";

function done(query, token, who) {
  session.set(token, who);
  const next = query.get("next");
  location.hash = next && next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/query";
}

function submitting(form, fn) {
  const status = h("div.form-status");
  form.append(status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    clear(status);
    try {
      await fn(new FormData(form));
    } catch (err) {
      showFieldErrors(form, err);
      clear(status, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function passwordForm(query) {
  return submitting(h("form.stack", { "aria-labelledby": "login-password", novalidate: true },
    h("h2", { id: "login-password", text: "With a password" }),
    field("Username", { name: "username", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    field("Tenant", { name: "tenant", value: "default", autocomplete: "organization" }),
    h("div", {}, h("button", { type: "submit", text: "Sign in" }))),
  async (data) => {
    const answer = await postForm("/token", {
      grant_type: "password", username: data.get("username"), password: data.get("password"),
      tenant: data.get("tenant") || "default",
    });
    done(query, answer.access_token, data.get("username"));
  });
}

function keyForm(query) {
  return submitting(h("form.stack", { "aria-labelledby": "login-key", novalidate: true },
    h("h2", { id: "login-key", text: "With an API key" }),
    field("API key", { name: "key", type: "password", autocomplete: "off", required: true, placeholder: "ck-…" }),
    h("div", {}, h("button", { type: "submit", text: "Use this key" }))),
  async (data) => {
    const key = String(data.get("key") || "").trim();
    if (!key) throw new ApiError(422, { error: { message: "an API key is required", field: "key" } });
    const res = await fetch("/api/models", { headers: { Authorization: "Bearer " + key } });
    if (res.status === 401) throw new ApiError(401, { error: { message: "this key is not valid here", field: "key" } });
    done(query, key, "API key " + key.slice(0, 7) + "…");
  });
}

function walletForm(query) {
  const challenge = h("pre.challenge", { "aria-live": "polite" });
  const form = h("form.stack", { "aria-labelledby": "login-wallet", novalidate: true },
    h("h2", { id: "login-wallet", text: "With a wallet" }),
    field("Wallet address (base58)", { name: "wallet", autocomplete: "off", required: true }),
    field("Tenant", { name: "tenant", value: "default", id: "f-wallet-tenant" }),
    challenge,
    field("Signature (base58 or base64; filled by a browser wallet)", { name: "signature", autocomplete: "off" }),
    h("input", { type: "hidden", name: "nonce" }),
    h("div", {}, h("button", { type: "submit", text: "Get challenge / sign in" })));
  return submitting(form, async (data) => {
    let nonce = data.get("nonce");
    if (!nonce) {
      const got = await api("/auth/wallet/nonce", { method: "POST",
        body: { wallet: data.get("wallet"), tenant: data.get("tenant") || "default" } });
      nonce = got.nonce;
      form.querySelector("[name=nonce]").value = nonce;
      challenge.textContent = got.message;
      const wallet = window.solana;
      if (wallet && wallet.signMessage) {
        const signed = await wallet.signMessage(new TextEncoder().encode(got.message), "utf8");
        const bytes = signed.signature || signed;
        form.querySelector("[name=signature]").value = btoa(String.fromCharCode(...bytes));
      } else {
        form.querySelector("[name=signature]").focus();
        return; // sign the challenge shown, paste the signature, submit again
      }
    }
    const signature = form.querySelector("[name=signature]").value;
    const answer = await api("/auth/wallet/verify", { method: "POST",
      body: { wallet: data.get("wallet"), nonce, signature } });
    done(query, answer.access_token, String(data.get("wallet")).slice(0, 8) + "…");
  });
}

export async function render(main, _params, query) {
  const expired = query.get("next");
  clear(main, h("h1", { text: "Sign in to Cerebra" }),
    expired ? h("p.warn", { role: "status", text: "Your session ended; sign in to go back to the page you were on." }) : null,
    h("div.grid", {}, h("div.panel", {}, passwordForm(query)), h("div.panel", {}, keyForm(query)),
      h("div.panel", {}, walletForm(query))));
}
