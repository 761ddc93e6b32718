// Reads JSON lines {"name": ..., "statement": ...} on stdin and writes one
// JSON line {"name": ..., "problems": ["path: warning", ...]} per input, as
// Learning Locker's validator judges the statement (no problems: valid).
const validate = require("@learninglocker/xapi-validation").default;
const readline = require("readline");

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") {
    return;
  }
  const { name, statement } = JSON.parse(line);
  let problems;
  try {
    problems = validate(statement).map((w) => `${(w.path || []).join(".")}: ${w.constructor.name}`);
  } catch (e) {
    problems = [`validator threw: ${e.message}`];
  }
  process.stdout.write(JSON.stringify({ name, problems }) + "\n");
});
