// Settings panel of the LearningFlow demo: drives the LRS Set Up form and
// keeps the status and dead-letter tables fresh through the JSON API. No
// build step, no dependencies. Data is always inserted as text, never as
// HTML.
"use strict";

(function () {
  const org = document.body.dataset.org;
  const base = "/api/orgs/" + encodeURIComponent(org);
  const $ = (id) => document.getElementById(id);
  const form = $("lrs-form");
  const testBtn = $("test-btn"), saveBtn = $("save-btn"), message = $("form-message"), report = $("report");
  let passedValues = null; // the values of the last passing test
  let busy = false;

  async function api(method, path, body) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      return { ok: false, status: 0, data: { error: { message: "The server cannot be reached." } } };
    }
    let data = null;
    if (resp.status !== 204) {
      try { data = await resp.json(); } catch (e) { data = null; }
    }
    return { ok: resp.ok, status: resp.status, data };
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  // --- the form ---

  function values() {
    const cfg = {
      xapi_version: $("xapi_version").value,
      endpoint: $("endpoint").value.trim(),
      key: $("key").value.trim(),
    };
    const secret = $("secret").value;
    if (secret !== "") cfg.secret = secret;
    return { id: $("id").value, label: $("label").value.trim(), plugin: "lrs", config: cfg };
  }

  function setMessage(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }

  function clearErrors(scope) {
    scope = scope || form;
    for (const d of scope.querySelectorAll(".field-error")) d.textContent = "";
    for (const i of scope.querySelectorAll(".invalid")) i.classList.remove("invalid");
  }

  function showErrors(fields, scope) {
    scope = scope || form;
    const unplaced = [];
    for (const f of fields || []) {
      const slot = scope.querySelector('.field-error[data-field="' + CSS.escape(f.field) + '"]');
      if (!slot) { unplaced.push((f.field ? f.field + ": " : "") + f.message); continue; }
      slot.textContent = f.message;
      const input = scope.querySelector('[name="' + CSS.escape(f.field) + '"]');
      if (input) input.classList.add("invalid");
    }
    return unplaced;
  }

  const icons = { passed: "\u2714", warning: "\u26A0", failed: "\u2716", skipped: "\u2013" };

  function renderReport(rep) {
    report.replaceChildren();
    for (const s of rep.steps || []) {
      report.append(el("li", { "data-status": s.status, "data-name": s.name },
        el("span", { class: "icon", title: s.status }, icons[s.status] || "?"),
        el("span", { class: "title" }, s.title || s.name),
        el("span", { class: "ms" }, s.status === "skipped" ? "" : (s.duration_ms < 1 ? "<1" : s.duration_ms) + " ms"),
        el("span", { class: "msg" }, s.message)));
    }
    report.dataset.ok = rep.ok ? "true" : "false";
  }

  function updateSave() {
    saveBtn.disabled = busy || passedValues === null || JSON.stringify(values()) !== passedValues;
  }

  function errorText(r) {
    return (r.data && r.data.error && r.data.error.message) || ("The server answered " + r.status + ".");
  }

  async function runTest() {
    clearErrors();
    report.replaceChildren();
    delete report.dataset.ok;
    passedValues = null;
    busy = true; updateSave(); testBtn.disabled = true;
    setMessage("Testing the connection\u2026");
    const v = values();
    const r = await api("POST", base + "/integrations/test", v);
    busy = false; testBtn.disabled = false;
    if (r.ok) {
      renderReport(r.data);
      if (r.data.ok) {
        passedValues = JSON.stringify(v);
        setMessage("The connection works. You can save.", "ok");
      } else {
        const failed = (r.data.steps || []).find((s) => s.status === "failed");
        setMessage("The connection test failed" + (failed ? ": " + failed.message : "."), "bad");
      }
    } else {
      const rest = showErrors(r.data && r.data.error && r.data.error.fields);
      setMessage(errorText(r) + (rest.length ? " " + rest.join("; ") : ""), "bad");
    }
    updateSave();
  }

  async function runSave() {
    clearErrors();
    busy = true; updateSave(); testBtn.disabled = true;
    setMessage("Saving (the connection is tested again)\u2026");
    const r = await api("POST", base + "/integrations", values());
    busy = false; testBtn.disabled = false;
    if (r.ok) {
      renderReport(r.data.report);
      const saved = r.data.integration;
      if (saved) edit({ id: saved.id, label: saved.label, version: saved.config.xapi_version, endpoint: saved.config.endpoint,
        key: saved.config.key, secretSaved: (saved.secrets_set || []).includes("secret") }, true);
      setMessage("Saved. Statements are now delivered to " + (saved ? saved.label : "the LRS") + ".", "ok");
      passedValues = null;
      refreshIntegrations();
      refreshStatus();
    } else {
      if (r.data && r.data.report) renderReport(r.data.report);
      const rest = showErrors(r.data && r.data.error && r.data.error.fields);
      setMessage(errorText(r) + (rest.length ? " " + rest.join("; ") : ""), "bad");
    }
    updateSave();
  }

  function edit(x, keepReport) {
    $("id").value = x.id || "";
    $("label").value = x.label || "";
    $("xapi_version").value = x.version || "2.0.0";
    $("endpoint").value = x.endpoint || "";
    $("key").value = x.key || "";
    $("secret").value = "";
    $("secret").dataset.saved = x.secretSaved ? "true" : "false";
    $("secret").placeholder = x.secretSaved ? "saved (leave empty to keep it)" : "the LRS's API secret";
    $("secret-hint").hidden = !x.secretSaved;
    $("editing").replaceChildren(...(x.id ? ["Editing ", el("b", {}, x.label), " (" + x.id + ")"] : ["New integration"]));
    passedValues = null;
    clearErrors();
    if (!keepReport) { report.replaceChildren(); setMessage(""); }
    updateSave();
  }

  form.addEventListener("input", updateSave);
  form.addEventListener("change", updateSave);
  form.addEventListener("submit", (e) => e.preventDefault());
  testBtn.addEventListener("click", runTest);
  saveBtn.addEventListener("click", runSave);
  $("new-btn").addEventListener("click", () => edit({}));

  // --- integrations ---

  $("integrations-body").addEventListener("click", async (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.classList.contains("edit-btn")) {
      edit({ id: b.dataset.id, label: b.dataset.label, version: b.dataset.version, endpoint: b.dataset.endpoint,
        key: b.dataset.key, secretSaved: b.dataset.secretSaved === "true" });
      $("label").focus();
    } else if (b.classList.contains("remove-btn")) {
      if (!confirm("Remove " + b.dataset.label + "? Statements still queued for it move to the dead letters.")) return;
      const r = await api("DELETE", base + "/integrations/" + encodeURIComponent(b.dataset.id));
      if (!r.ok) { alert(errorText(r)); return; }
      if ($("id").value === b.dataset.id) edit({});
      refreshIntegrations(); refreshStatus(); refreshDead();
    }
  });

  async function refreshIntegrations() {
    const r = await api("GET", base + "/integrations");
    if (!r.ok) return;
    const body = $("integrations-body");
    const rows = r.data.integrations.map((x) => {
      const actions = el("td", { class: "actions" });
      if (x.plugin === "lrs") {
        actions.append(el("button", { type: "button", class: "link edit-btn", "data-id": x.id, "data-label": x.label,
          "data-version": x.config.xapi_version || "", "data-endpoint": x.config.endpoint || "", "data-key": x.config.key || "",
          "data-secret-saved": (x.secrets_set || []).includes("secret") ? "true" : "" }, "Edit"));
      }
      actions.append(el("button", { type: "button", class: "link danger remove-btn", "data-id": x.id, "data-label": x.label }, "Remove"));
      return el("tr", { "data-id": x.id }, el("td", {}, x.label), el("td", {}, x.plugin), el("td", {}, el("code", {}, x.id)),
        el("td", {}, x.source), actions);
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 5, class: "empty" }, "No integrations yet.")));
    body.replaceChildren(...rows);
  }

  // --- organizations ---

  // Add organization: PUT the new organization, then show its tab. An
  // existing id is refused here, since PUT would replace its settings.
  const orgForm = $("org-form");
  orgForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(orgForm);
    const msg = $("org-message");
    msg.textContent = "";
    const id = $("org-id").value.trim();
    if (id === "") { showErrors([{ field: "id", message: "is required" }], orgForm); return; }
    const path = "/api/orgs/" + encodeURIComponent(id);
    if ((await api("GET", path)).ok) {
      showErrors([{ field: "id", message: "this organization exists already" }], orgForm);
      return;
    }
    $("org-add-btn").disabled = true;
    const r = await api("PUT", path, { settings: { base_iri: $("org-base-iri").value.trim() } });
    $("org-add-btn").disabled = false;
    if (r.ok) { location.assign("/orgs/" + encodeURIComponent(r.data.id)); return; }
    const rest = showErrors(r.data && r.data.error && r.data.error.fields, orgForm);
    msg.textContent = errorText(r) + (rest.length ? " " + rest.join("; ") : "");
  });

  // --- status ---

  const badges = { active: "ok", retrying: "warn", breaker_half_open: "warn", paused_auth: "bad", paused_config: "bad", breaker_open: "bad" };

  function age(ms) {
    if (!ms || ms <= 0) return "\u2013";
    const s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }

  function clock(t) {
    return t ? new Date(t).toLocaleTimeString([], { hour12: false }) : "never";
  }

  async function refreshStatus() {
    const r = await api("GET", base + "/status");
    if (!r.ok) { $("status-updated").textContent = "not updated: " + errorText(r); return; }
    const rows = r.data.integrations.map((s) => {
      const act = el("td", { class: "actions" });
      if (s.state === "paused_auth" || s.state === "paused_config") {
        act.append(el("button", { type: "button", class: "link resume-btn", "data-id": s.id }, "Resume"));
      }
      return el("tr", { "data-id": s.id },
        el("td", {}, s.label + " ", el("code", {}, s.id)),
        el("td", {}, el("span", { class: "badge " + (badges[s.state] || "idle") }, s.state)),
        el("td", { class: "num queued" }, s.queued),
        el("td", { class: "oldest" }, age(s.oldest_age_ms)),
        el("td", { class: "num delivered" }, s.delivered),
        el("td", { class: "num retried" }, s.retried),
        el("td", { class: "num dead" }, s.dead_lettered),
        el("td", { class: "last-success" }, clock(s.last_success)),
        el("td", { class: "last-error" }, s.last_error || ""),
        act);
    });
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 10, class: "empty" }, "Nothing to deliver to.")));
    $("status-body").replaceChildren(...rows);
    $("refused-events").textContent = r.data.refused_events;
    $("status-updated").textContent = "as of " + clock(r.data.time);
  }

  $("status-body").addEventListener("click", async (e) => {
    const b = e.target.closest("button.resume-btn");
    if (!b) return;
    const r = await api("POST", base + "/integrations/" + encodeURIComponent(b.dataset.id) + "/resume");
    if (!r.ok) alert(errorText(r));
    refreshStatus();
  });

  // --- dead letters ---

  async function refreshDead() {
    const r = await api("GET", base + "/deadletters?limit=50");
    if (!r.ok) return;
    $("dead-total").textContent = r.data.total;
    const rows = r.data.dead_letters.map((d) => el("tr", { "data-id": d.id },
      el("td", {}, clock(d.time)), el("td", {}, d.sink), el("td", {}, d.class), el("td", {}, d.reason),
      el("td", {}, el("code", {}, d.statement_id)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "link replay-btn", "data-id": d.id }, "Replay"), " ",
        el("button", { type: "button", class: "link danger purge-btn", "data-id": d.id }, "Purge"))));
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { colSpan: 6, class: "empty" }, "No dead letters.")));
    $("dead-body").replaceChildren(...rows);
  }

  async function deadAction(action, ids) {
    const r = await api("POST", base + "/deadletters/" + action, ids ? { ids } : {});
    if (!r.ok) alert(errorText(r));
    refreshDead(); refreshStatus();
  }

  $("dead-body").addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.classList.contains("replay-btn")) deadAction("replay", [b.dataset.id]);
    if (b.classList.contains("purge-btn") && confirm("Delete this statement for good?")) deadAction("purge", [b.dataset.id]);
  });
  $("replay-all-btn").addEventListener("click", () => deadAction("replay"));
  $("purge-all-btn").addEventListener("click", () => {
    if (confirm("Delete every dead letter of this organization for good?")) deadAction("purge");
  });

  // Refresh every 2 s; a slow answer is not overtaken by the next one.
  async function loop() {
    await Promise.all([refreshStatus(), refreshDead()]);
    setTimeout(loop, 2000);
  }
  setTimeout(loop, 2000);
  updateSave();
  window.lrsPanel = { ready: true };
})();
