// The LRS settings panel: drives the LRS Set Up form and keeps the
// integrations, status and dead-letter lists fresh through the admin API.
// No build step, no dependencies. Data is always inserted as text, never as
// HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const apiBase = body.dataset.api;
  const pageBase = body.dataset.base;

  async function api(method, path, data) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (data !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(data);
    }
    let resp;
    try {
      resp = await fetch(apiBase + path, opts);
    } catch (e) {
      return { ok: false, status: 0, data: { error: { message: "The server cannot be reached. Check your connection and try again." } } };
    }
    let out = null;
    if (resp.status !== 204) {
      try { out = await resp.json(); } catch (e) { out = null; }
    }
    return { ok: resp.ok, status: resp.status, data: out };
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-") || k.startsWith("aria-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function errorText(r) {
    return (r.data && r.data.error && r.data.error.message) || ("The server answered " + r.status + ".");
  }

  function clearErrors(scope) {
    for (const d of scope.querySelectorAll(".field-error")) d.textContent = "";
    for (const i of scope.querySelectorAll(".invalid")) { i.classList.remove("invalid"); i.removeAttribute("aria-invalid"); }
  }

  // showErrors puts field errors next to their inputs and returns the ones
  // that have no place in the form.
  function showErrors(scope, fields) {
    const unplaced = [];
    for (const f of fields || []) {
      const slot = scope.querySelector('.field-error[data-field="' + CSS.escape(f.field) + '"]');
      if (!slot) { unplaced.push((f.field ? f.field + ": " : "") + f.message); continue; }
      slot.textContent = f.message;
      const input = scope.querySelector('[name="' + CSS.escape(f.field) + '"]');
      if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
    }
    return unplaced;
  }

  function clock(t) {
    return t ? new Date(t).toLocaleTimeString([], { hour12: false }) : "never";
  }

  // --- adding an organization (every page) ---

  const orgForm = $("org-form");
  if (orgForm) {
    orgForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(orgForm);
      const msg = orgForm.querySelector(".org-message");
      msg.textContent = "";
      const id = $("org-id").value.trim();
      if (id === "") { showErrors(orgForm, [{ field: "id", message: "Enter an id." }]); return; }
      const path = "/orgs/" + encodeURIComponent(id);
      const existing = await api("GET", path);
      if (existing.ok) { showErrors(orgForm, [{ field: "id", message: "This organization exists already: choose another id." }]); return; }
      const r = await api("PUT", path, { settings: { base_iri: $("org-base-iri").value.trim() } });
      if (r.ok) { location.assign(pageBase + "/orgs/" + encodeURIComponent(r.data.id)); return; }
      const rest = showErrors(orgForm, r.data && r.data.error && r.data.error.fields);
      msg.textContent = errorText(r) + (rest.length ? " " + rest.join("; ") : "");
    });
  }

  const org = body.dataset.org;
  if (!org) { window.lrsPanel = { ready: true }; return; }
  const base = "/orgs/" + encodeURIComponent(org);

  // --- the LRS form ---

  const form = $("lrs-form");
  const testBtn = $("test-btn"), message = $("form-message"), report = $("report");
  const authFields = { basic: ["key", "secret"], oauth2: ["oauth_endpoint", "client_id", "client_secret", "scopes"], bearer: ["bearer_token"] };
  const secretFields = ["secret", "client_secret", "bearer_token"];
  let integrations = [];

  function authMode() { return $("auth").value; }

  function values(version) {
    const cfg = { xapi_version: version || $("xapi_version").value, endpoint: $("endpoint").value.trim() };
    const mode = authMode();
    if (mode !== "basic") cfg.auth = mode; // basic is the default
    // Only the chosen mode's fields are sent. Its secrets are sent also
    // when empty: an empty secret keeps the saved one (while the LRS and
    // token endpoint stay the same); a secret left out is dropped.
    for (const k of authFields[mode]) {
      if (secretFields.includes(k)) { cfg[k] = $(k).value; continue; }
      const v = $(k).value.trim();
      if (v !== "") cfg[k] = v;
    }
    return { id: $("id").value, label: $("label").value.trim(), plugin: "lrs", config: cfg };
  }

  function showAuth() {
    const mode = authMode();
    for (const f of document.querySelectorAll(".auth-fields")) f.hidden = f.dataset.auth !== mode;
    let saved = false;
    for (const k of secretFields) {
      const i = $(k);
      const isSaved = i.dataset.saved === "true";
      if (i.dataset.hint === undefined) i.dataset.hint = i.placeholder; // the page's own words for each field
      i.placeholder = isSaved ? "saved (leave empty to keep it)" : i.dataset.hint;
      if (isSaved && authFields[mode].includes(k)) saved = true;
    }
    $("secret-hint").hidden = !saved;
  }

  function setMessage(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }

  const icons = { passed: "\u2714", warning: "\u26A0", failed: "\u2716", skipped: "\u2013" };

  // renderReport shows the steps. When the version step failed, a later
  // failure of the credentials step is not the credentials' fault (an LRS
  // refuses requests of a version it does not speak): it is shown as not
  // judged.
  function renderReport(rep) {
    report.replaceChildren();
    let versionFailed = false;
    for (const s0 of rep.steps || []) {
      const s = Object.assign({}, s0);
      if (s.name === "about" && s.status === "failed") versionFailed = true;
      else if (versionFailed && s.name === "auth" && s.status === "failed") {
        s.status = "skipped";
        s.message = "Not judged: fix the xAPI Version first (the LRS refuses requests of a version it does not speak, whatever the key and secret).";
      }
      report.append(el("li", { "data-status": s.status, "data-name": s.name },
        el("span", { class: "icon", "aria-hidden": "true" }, icons[s.status] || "?"),
        el("span", { class: "title" }, s.title || s.name, el("span", { class: "sr" }, " (" + s.status + ")")),
        el("span", { class: "ms" }, s.status === "skipped" ? "" : (s.duration_ms < 1 ? "<1" : s.duration_ms) + " ms"),
        el("span", { class: "msg" }, s.message)));
    }
    report.dataset.ok = rep.ok ? "true" : "false";
    return versionFailed;
  }

  function firstFailure(rep) {
    return (rep.steps || []).find((s) => s.status === "failed");
  }

  // detectVersion tests the other versions (nothing is saved) and returns
  // the first one the LRS's about step accepts.
  async function detectVersion(current) {
    for (const opt of $("xapi_version").options) {
      if (opt.value === current) continue;
      const r = await api("POST", base + "/integrations/test", values(opt.value));
      if (!r.ok) continue;
      const about = (r.data.steps || []).find((s) => s.name === "about");
      if (about && about.status !== "failed") return opt.value;
    }
    return null;
  }

  let busy = false;

  async function testAndSave() {
    if (busy) return;
    busy = true; testBtn.disabled = true;
    clearErrors(form);
    report.replaceChildren();
    delete report.dataset.ok;
    setMessage("Testing the connection\u2026");
    const v = values();
    const r = await api("POST", base + "/integrations", v);
    if (r.ok) {
      renderReport(r.data.report);
      const saved = r.data.integration;
      edit(saved, true);
      setMessage("Saved and active. Statements of this organization now go to " + saved.label + ".", "ok");
      refreshAll();
    } else if (r.data && r.data.error && r.data.error.code === "test_failed") {
      const versionFailed = renderReport(r.data.report);
      const failed = firstFailure(r.data.report);
      let text = "Nothing was saved. " + (failed ? failed.title + ": " + failed.message : "");
      if (versionFailed) {
        const other = await detectVersion(v.config.xapi_version);
        if (other) {
          $("xapi_version").value = other;
          text = "Nothing was saved. This LRS speaks xAPI " + other + ", not " + v.config.xapi_version +
            ": the xAPI Version is now set to " + other + ". Press Test Connection again.";
        }
      }
      setMessage(text, "bad");
    } else {
      const rest = showErrors(form, r.data && r.data.error && r.data.error.fields);
      setMessage("Nothing was saved. " + errorText(r) + (rest.length ? " " + rest.join("; ") : ""), "bad");
      const first = form.querySelector(".invalid");
      if (first) first.focus();
    }
    busy = false; testBtn.disabled = false;
  }

  // edit fills the form with an integration (x from the API), or empties it.
  function edit(x, keepReport) {
    x = x || { config: {}, secrets_set: [] };
    const cfg = x.config || {};
    $("id").value = x.id || "";
    $("label").value = x.label || "";
    $("xapi_version").value = cfg.xapi_version || "1.0.3";
    $("endpoint").value = cfg.endpoint || "";
    $("auth").value = cfg.auth || "basic";
    for (const k of ["key", "oauth_endpoint", "client_id", "scopes"]) {
      const v = cfg[k];
      $(k).value = Array.isArray(v) ? v.join(" ") : (v || ""); // scopes may be a list
    }
    for (const k of secretFields) {
      $(k).value = "";
      $(k).dataset.saved = (x.secrets_set || []).includes(k) ? "true" : "false";
    }
    $("editing").replaceChildren(...(x.id ? ["Editing ", el("b", {}, x.label), " (" + x.id + ")"] : ["New integration"]));
    clearErrors(form);
    showAuth();
    if (!keepReport) { report.replaceChildren(); setMessage(""); }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); testAndSave(); });
  $("auth").addEventListener("change", showAuth);
  $("new-btn").addEventListener("click", () => { edit(null); $("label").focus(); });
  showAuth();

  // --- integrations ---

  async function refreshIntegrations() {
    const r = await api("GET", base + "/integrations");
    if (!r.ok) return;
    integrations = r.data.integrations;
    const rows = integrations.map((x) => {
      const actions = el("td", { class: "actions" });
      if (x.plugin === "lrs") actions.append(el("button", { type: "button", class: "link edit-btn", "data-id": x.id }, "Edit"));
      actions.append(el("button", { type: "button", class: "link danger remove-btn", "data-id": x.id }, "Remove"));
      return el("tr", { "data-id": x.id }, el("td", {}, x.label), el("td", {}, x.plugin), el("td", {}, el("code", {}, x.id)),
        el("td", {}, x.source === "config" ? "configuration file" : "saved here"), actions);
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 5, class: "empty" }, "No integrations yet: this organization's statements are not accepted until one is saved.")));
    $("integrations-body").replaceChildren(...rows);
    const into = $("replay-into"), chosen = into.value;
    into.replaceChildren(el("option", { value: "" }, "their own integration"), ...integrations.map((x) => el("option", { value: x.id }, x.label)));
    into.value = integrations.some((x) => x.id === chosen) ? chosen : "";
  }

  $("integrations-body").addEventListener("click", async (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    const x = integrations.find((i) => i.id === b.dataset.id);
    if (!x) return;
    if (b.classList.contains("edit-btn")) {
      edit(x);
      $("label").focus();
    } else if (b.classList.contains("remove-btn")) {
      if (!confirm("Remove " + x.label + "? Statements still queued for it move to the dead letters.")) return;
      const r = await api("DELETE", base + "/integrations/" + encodeURIComponent(x.id));
      if (!r.ok) { alert(errorText(r)); return; }
      if ($("id").value === x.id) edit(null);
      refreshAll();
    }
  });

  // --- status ---

  const badges = { active: "ok", retrying: "warn", breaker_half_open: "warn", paused_auth: "bad", paused_config: "bad", breaker_open: "bad", queue_error: "bad" };

  function statusItem(s) {
    const li = el("li", { "data-id": s.id, "data-state": s.state });
    li.append(el("div", { class: "status-head" },
      el("b", {}, s.label), " ", el("code", {}, s.id), " ",
      el("span", { class: "badge " + (badges[s.state] || "idle") }, s.state_text)));
    if (s.next_step) li.append(el("p", { class: "next" }, s.next_step));
    li.append(el("p", { class: "counts" },
      "Queued ", el("b", { class: "queued" }, s.queued), " \u00b7 Delivered ", el("b", { class: "delivered" }, s.delivered),
      " \u00b7 Retried ", el("b", { class: "retried" }, s.retried), " \u00b7 Dead-lettered ", el("b", { class: "dead" }, s.dead_lettered),
      " \u00b7 Last success ", el("span", { class: "last-success" }, clock(s.last_success))));
    if (s.last_error && s.error_current) {
      li.append(el("div", { class: "last-error" },
        el("p", {}, "Last error at " + clock(s.last_error_time) + ": " + s.last_error_summary),
        el("details", {}, el("summary", {}, "Details"), el("p", { class: "detail" }, s.last_error))));
    } else if (s.last_error) {
      li.append(el("p", { class: "recovered" }, "Recovered: the last error (at " + clock(s.last_error_time) + ") is over."));
    }
    if (s.state === "paused_auth" || s.state === "paused_config") {
      li.append(el("div", { class: "buttons" }, el("button", { type: "button", class: "resume-btn", "data-id": s.id }, "Resume without changes")));
    }
    return li;
  }

  async function refreshStatus() {
    const r = await api("GET", base + "/status");
    if (!r.ok) { $("status-updated").textContent = "not updated: " + errorText(r); return; }
    const items = r.data.integrations.map(statusItem);
    if (items.length === 0) items.push(el("li", { class: "empty" }, "Nothing to deliver to yet."));
    $("status-list").replaceChildren(...items);
    $("refused-events").textContent = r.data.refused_events;
    $("status-updated").textContent = "as of " + clock(r.data.time);
  }

  $("status-list").addEventListener("click", async (e) => {
    const b = e.target.closest("button.resume-btn");
    if (!b) return;
    const r = await api("POST", base + "/integrations/" + encodeURIComponent(b.dataset.id) + "/resume");
    if (!r.ok) alert(errorText(r));
    refreshStatus();
  });

  // --- dead letters ---

  function deadMessage(text, kind) {
    $("dead-message").textContent = text;
    $("dead-message").className = kind || "";
  }

  async function refreshDead() {
    const r = await api("GET", base + "/deadletters?limit=50");
    if (!r.ok) return;
    $("dead-total").textContent = r.data.total;
    const rows = r.data.dead_letters.map((d) => el("tr", { "data-id": d.id, "data-orphan": d.integration_exists ? "false" : "true" },
      el("td", {}, clock(d.time)),
      el("td", {}, d.sink, d.integration_exists ? null : el("span", { class: "removed" }, " (removed)")),
      el("td", { class: "reason" }, d.reason),
      el("td", {}, el("code", {}, d.statement_id)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "link replay-btn", "data-id": d.id }, "Replay"), " ",
        el("button", { type: "button", class: "link danger purge-btn", "data-id": d.id }, "Purge"))));
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 5, class: "empty" }, "No dead letters.")));
    $("dead-body").replaceChildren(...rows);
  }

  async function replay(ids) {
    const into = $("replay-into").value;
    const req = {};
    if (ids) req.ids = ids;
    if (into) req.into = into;
    const r = await api("POST", base + "/deadletters/replay", req);
    if (!r.ok) { deadMessage(errorText(r), "bad"); return; }
    let text = "Replayed " + r.data.replayed + ".";
    let kind = "ok";
    if (r.data.left > 0) {
      kind = "bad";
      text += integrations.length === 0
        ? " " + r.data.left + " stay: their integration was removed and there is no integration to replay them into. Set one up first."
        : " " + r.data.left + " stay: their integration was removed. Choose an integration under \u201cinto\u201d and replay again.";
    }
    deadMessage(text, kind);
    refreshDead(); refreshStatus();
  }

  $("dead-body").addEventListener("click", async (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.classList.contains("replay-btn")) replay([b.dataset.id]);
    if (b.classList.contains("purge-btn") && confirm("Delete this statement for good?")) {
      const r = await api("POST", base + "/deadletters/purge", { ids: [b.dataset.id] });
      deadMessage(r.ok ? "Deleted." : errorText(r), r.ok ? "ok" : "bad");
      refreshDead(); refreshStatus();
    }
  });
  $("replay-all-btn").addEventListener("click", () => replay(null));
  $("purge-all-btn").addEventListener("click", async () => {
    if (!confirm("Delete every dead letter of this organization for good?")) return;
    const r = await api("POST", base + "/deadletters/purge", {});
    deadMessage(r.ok ? "Deleted " + r.data.purged + "." : errorText(r), r.ok ? "ok" : "bad");
    refreshDead(); refreshStatus();
  });

  function refreshAll() {
    return Promise.all([refreshIntegrations(), refreshStatus(), refreshDead()]);
  }

  // Refresh every 2 s; a slow answer is not overtaken by the next one.
  async function loop() {
    await Promise.all([refreshStatus(), refreshDead()]);
    setTimeout(loop, 2000);
  }
  refreshAll().then(() => {
    window.lrsPanel = { ready: true };
    setTimeout(loop, 2000);
  });
})();
