// Tin Can content, run by host/launch's TestTinCanJSContent with the Tin
// Can launch URL as its argument. Through TinCanJS it does what a
// Storyline course does: statements as the learner moves on, the bookmark
// and suspend data in the State resource, and reads of both. It prints one
// JSON line per step: {"step": ..., "ok": true|false, "status": ..., "value": ...}.
const TinCan = require("tincanjs");

const launch = new URL(process.argv[2]);
const p = Object.fromEntries(launch.searchParams);
const lrs = new TinCan.LRS({ endpoint: p.endpoint, auth: p.auth, allowFail: false });
const actor = TinCan.Agent.fromJSON(p.actor);
const course = new TinCan.Activity({ id: p.activity_id });
const registration = p.registration;

function report(step, err, xhr, value) {
  const status = xhr && typeof xhr.status === "number" ? xhr.status : 0;
  console.log(JSON.stringify({ step, ok: err === null || err === undefined, status, value }));
}

function statement(verb, target, extra) {
  return new TinCan.Statement(Object.assign({
    actor,
    verb: { id: "http://adlnet.gov/expapi/verbs/" + verb, display: { "en-US": verb } },
    target,
    context: { registration, contextActivities: { parent: [course] } },
  }, extra || {}));
}

// Each step is a function(next) that reports and calls next.
const slide = new TinCan.Activity({ id: p.activity_id + "/slide-2", definition: { type: "http://adlnet.gov/expapi/activities/module" } });
const question = new TinCan.Activity({
  id: p.activity_id + "/quiz/q1",
  definition: { type: "http://adlnet.gov/expapi/activities/cmi.interaction", interactionType: "choice",
    choices: [{ id: "a", description: { "en-US": "Mitochondria" } }, { id: "b", description: { "en-US": "Ribosome" } }],
    correctResponsesPattern: ["b"] },
});
let experiencedID;
const steps = [
  (next) => lrs.saveStatement(statement("initialized", course), { callback: (err, xhr) => { report("initialized", err, xhr); next(); } }),
  (next) => {
    const st = statement("experienced", slide);
    experiencedID = st.id;
    lrs.saveStatement(st, { callback: (err, xhr) => { report("experienced", err, xhr); next(); } });
  },
  (next) => lrs.saveStatements([
    statement("answered", question, { result: { response: "b", success: true, duration: "PT14S" } }),
    statement("passed", course, { result: { score: { scaled: 0.9, raw: 9, min: 0, max: 10 }, success: true, completion: true } }),
  ], { callback: (err, xhr) => { report("answered and passed", err, xhr); next(); } }),
  (next) => lrs.saveState("bookmark", "slide-2", { activity: course, agent: actor, registration, contentType: "text/plain",
    callback: (err, xhr) => { report("save bookmark", err, xhr); next(); } }),
  (next) => lrs.saveState("suspend_data", { slides: [1, 2], score: 9 }, { activity: course, agent: actor, registration,
    contentType: "application/json", callback: (err, xhr) => { report("save suspend data", err, xhr); next(); } }),
  (next) => lrs.retrieveState("bookmark", { activity: course, agent: actor, registration,
    callback: (err, state) => { report("read bookmark", err, null, state && state.contents); next(); } }),
  (next) => lrs.retrieveState("suspend_data", { activity: course, agent: actor, registration,
    callback: (err, state) => { report("read suspend data", err, null, state && state.contents); next(); } }),
  (next) => lrs.retrieveStatement(experiencedID, {
    callback: (err, st) => { report("read statement", err, null, st && st.verb && st.verb.id); next(); } }),
  (next) => lrs.queryStatements({ params: { registration, activity: course, related_activities: true },
    callback: (err, res) => { report("query statements", err, null, res && res.statements.length); next(); } }),
  (next) => {
    const v = statement("voided", new TinCan.StatementRef({ id: experiencedID }));
    lrs.saveStatement(v, { callback: (err, xhr) => { report("void", err, xhr); next(); } });
  },
];

(function run(i) {
  if (i < steps.length) {
    steps[i](() => run(i + 1));
  }
})(0);
