// A cmi5 assignable unit, run by host/launch's TestCMI5ThirdPartyAU with
// the AU's launch URL as its argument. It plays one session through the
// @xapi/cmi5 library as content built on it does, then prints one JSON
// line per step: {"step": ..., "ok": true|false, "status": ..., "error": ...}.
// It exits 0 when it could run every step, whatever their outcome.

// The library's bundled HTTP client needs XMLHttpRequest, which Node.js
// does not have; it must exist before the library loads.
globalThis.XMLHttpRequest = require("xhr2");
const Cmi5 = require("@xapi/cmi5/dist/Cmi5.umd.js");

const launch = new URL(process.argv[2]);
const p = Object.fromEntries(launch.searchParams);
const cmi5 = new Cmi5({
  endpoint: p.endpoint,
  fetch: p.fetch,
  actor: JSON.parse(p.actor),
  registration: p.registration,
  activityId: p.activityId,
});

async function step(name, run) {
  try {
    await run();
    console.log(JSON.stringify({ step: name, ok: true }));
  } catch (e) {
    const status = e.response ? e.response.status : 0;
    console.log(JSON.stringify({ step: name, ok: false, status, error: String(e.message) }));
  }
}

(async () => {
  await step("initialize", () => cmi5.initialize());
  await step("progress", () => cmi5.progress(50));
  await step("interaction", () => cmi5.interactionChoice("quiz-1", "q-1", ["b"], ["b"]));
  await step("pass", () => cmi5.pass(0.9));
  await step("complete", () => cmi5.complete());
  await step("terminate", () => cmi5.terminate());
  await step("progress after terminate", () => cmi5.progress(100));
})();
