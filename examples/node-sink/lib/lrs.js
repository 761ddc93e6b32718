'use strict';
// The sink itself: configuration checking, delivery of statement batches to
// an xAPI LRS (POST .../statements, Basic authentication) and the connection
// test. It knows nothing of gRPC; lrs-sink.js serves it.

const http = require('node:http');
const https = require('node:https');
const { lookupFor, checkLiteral } = require('./egress.js');

// Error classes of the wire protocol (ErrorClass in sink.proto).
const RETRYABLE = 1;
const PERMANENT = 2;
const UNAUTHENTICATED = 3;
const FORBIDDEN = 4;

const VERSIONS = ['1.0.3', '2.0.0'];
const KNOWN = new Set(['endpoint', 'key', 'secret', 'xapi_version', 'label', 'timeout_seconds']);
const EXCERPT = 200;

// SinkError is a failure of a whole call, with its class and, for retryable
// errors, the delay the LRS asked for.
class SinkError extends Error {
  constructor(klass, message, retryAfterMs) {
    super(message);
    this.klass = klass;
    this.retryAfterMs = retryAfterMs;
  }
}

// ConfigError lists configuration problems field by field.
class ConfigError extends Error {
  constructor(fields) {
    super('invalid configuration: ' + fields.map((f) => `${f.field}: ${f.message}`).join('; '));
    this.fields = fields;
  }
}

function parseConfig(raw, egress) {
  const problems = [];
  let cfg;
  try {
    cfg = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ConfigError([{ field: '', message: 'the configuration is not a JSON object' }]);
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
    throw new ConfigError([{ field: '', message: 'the configuration is not a JSON object' }]);
  }
  for (const k of Object.keys(cfg)) {
    if (!KNOWN.has(k)) problems.push({ field: k, message: 'unknown setting' });
  }
  const str = (k) => (typeof cfg[k] === 'string' ? cfg[k].trim() : cfg[k] === undefined ? '' : null);
  let endpoint = null;
  const e = str('endpoint');
  if (!e) {
    problems.push({ field: 'endpoint', message: 'enter the address of the LRS, for example https://lrs.example.com/xapi/' });
  } else {
    try {
      endpoint = new URL(e.endsWith('/') ? e : e + '/');
      if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
        problems.push({ field: 'endpoint', message: 'the address must start with https://' });
      } else if (endpoint.protocol === 'http:' && !egress.allow_http) {
        problems.push({ field: 'endpoint', message: 'plain http:// is not allowed here: use https://' });
      } else if (endpoint.username || endpoint.password) {
        problems.push({ field: 'endpoint', message: 'put the credentials in key and secret, not in the address' });
      }
      endpoint.pathname = endpoint.pathname.replace(/(statements|about)\/$/, '');
    } catch {
      problems.push({ field: 'endpoint', message: 'not a valid URL' });
    }
  }
  if (!str('key')) problems.push({ field: 'key', message: 'enter the API key the LRS gave you' });
  if (!str('secret')) problems.push({ field: 'secret', message: 'enter the API secret the LRS gave you' });
  const version = str('xapi_version') || '1.0.3';
  if (!VERSIONS.includes(version)) {
    problems.push({ field: 'xapi_version', message: `use one of ${VERSIONS.join(', ')}` });
  }
  let timeoutMs = 30000;
  if (cfg.timeout_seconds !== undefined) {
    const t = Number(cfg.timeout_seconds);
    if (!Number.isFinite(t) || t <= 0 || t > 600) {
      problems.push({ field: 'timeout_seconds', message: 'a number of seconds between 1 and 600' });
    } else {
      timeoutMs = t * 1000;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    endpoint,
    version,
    timeoutMs,
    auth: 'Basic ' + Buffer.from(`${cfg.key.trim()}:${cfg.secret}`).toString('base64'),
    secrets: [cfg.secret, cfg.key.trim() + ':' + cfg.secret],
  };
}

// redact removes the secret and every form of it the LRS may echo back,
// in any letter case. The marker beside the text around a secret can spell
// it again ("]ab" in "[redacted]ab"): it replaces until nothing changes, and
// gives the marker alone for a text still changing after a few passes.
function redact(text, cfg) {
  const forms = [cfg.auth, cfg.auth.slice(6)];
  for (const s of cfg.secrets) forms.push(s, Buffer.from(s).toString('base64'));
  const patterns = forms.filter((f) => f).map((f) => new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'));
  let out = text;
  for (let pass = 0; pass < 8; pass++) {
    let next = out;
    for (const re of patterns) next = next.replace(re, '[redacted]');
    if (next === out) return out;
    out = next;
  }
  return '[redacted]';
}

function retryAfterMs(header) {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

// request sends one HTTP request through the egress policy and resolves to
// {status, headers, body}.
function request(cfg, egress, method, path, body, signal) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, cfg.endpoint);
    const refused = checkLiteral(url.hostname, egress);
    if (refused) return reject(new SinkError(RETRYABLE, refused.message));
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method,
      signal,
      lookup: lookupFor(egress),
      timeout: cfg.timeoutMs,
      headers: {
        Authorization: cfg.auth,
        'X-Experience-API-Version': cfg.version,
        ...(body ? { 'Content-Type': 'application/json', 'Content-Length': body.length } : {}),
      },
    }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        if (size < 64 * 1024) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new SinkError(RETRYABLE, 'the LRS did not answer in time')));
    req.on('error', (err) => {
      if (err instanceof SinkError) return reject(err);
      if (err.name === 'AbortError') return reject(err);
      reject(new SinkError(RETRYABLE, `cannot reach the LRS: ${redact(err.message, cfg)}`));
    });
    req.end(body);
  });
}

function excerpt(res, cfg) {
  const text = redact(res.body.replace(/\s+/g, ' ').trim(), cfg);
  return text.length > EXCERPT ? text.slice(0, EXCERPT) + '...' : text;
}

// callError turns an answer that concerns the whole request into a SinkError.
function callError(res, cfg) {
  const what = `the LRS answered ${res.status}` + (res.body ? `: ${excerpt(res, cfg)}` : '');
  if (res.status === 401) return new SinkError(UNAUTHENTICATED, 'the LRS refused the key and secret (401)');
  if (res.status === 403) return new SinkError(FORBIDDEN, 'the key is not allowed to write statements (403)');
  if (res.status === 429 || res.status === 503) return new SinkError(RETRYABLE, what, retryAfterMs(res.headers['retry-after']));
  if (res.status >= 300 && res.status < 400) return new SinkError(RETRYABLE, `the LRS redirected the request (${res.status}); enter the final address`);
  return new SinkError(RETRYABLE, what);
}

class Sink {
  constructor(cfg, egress) {
    this.cfg = cfg;
    this.egress = egress;
  }

  async post(statements, signal) {
    const body = Buffer.from('[' + statements.map((s) => Buffer.from(s.json).toString('utf8')).join(',') + ']');
    return request(this.cfg, this.egress, 'POST', 'statements', body, signal);
  }

  // deliver returns one verdict per statement, or [] when all were stored.
  async deliver(statements, signal) {
    if (statements.length === 0) return [];
    const res = await this.post(statements, signal);
    if (res.status === 200 || res.status === 204) return [];
    if (res.status === 409 && statements.length === 1) return [{ error_class: 0, already_stored: true }];
    if (res.status === 400 && statements.length === 1) {
      return [{ error_class: PERMANENT, error_message: `the LRS rejected the statement: ${excerpt(res, this.cfg)}` }];
    }
    if (res.status === 400 || res.status === 409) {
      // One at a time, to tell the rejected statements from the others.
      const verdicts = [];
      for (const st of statements) {
        const [v] = await this.deliver([st], signal);
        verdicts.push(v || { error_class: 0 });
      }
      return verdicts.some((v) => v.error_class !== 0 || v.already_stored) ? verdicts : [];
    }
    throw callError(res, this.cfg);
  }

  async testConnection() {
    const steps = [];
    const step = async (name, title, fn) => {
      const start = process.hrtime.bigint();
      let result;
      try {
        result = await fn();
      } catch (err) {
        result = { status: 3, message: err.message };
      }
      steps.push({ name, title, ...result, duration_nanos: Number(process.hrtime.bigint() - start) });
      return result.status !== 3;
    };
    const skipped = (name, title) => steps.push({ name, title, status: 4, message: 'skipped: an earlier step failed', duration_nanos: 0 });
    const reached = await step('about', 'Reach the LRS', async () => {
      const res = await request(this.cfg, this.egress, 'GET', 'about', null);
      if (res.status !== 200) return { status: 3, message: `the address answered ${res.status}; check that it is the LRS's xAPI endpoint` };
      let versions = [];
      try {
        versions = JSON.parse(res.body).version || [];
      } catch {
        return { status: 3, message: 'the address did not answer like an LRS; check the endpoint' };
      }
      if (!versions.some((v) => v.startsWith(this.cfg.version.slice(0, 3)))) {
        return { status: 3, message: `the LRS speaks xAPI ${versions.join(', ')}; choose one of these versions` };
      }
      return { status: 1, message: `the LRS speaks xAPI ${versions.join(', ')}` };
    });
    if (!reached) {
      skipped('auth', 'Check the key and secret');
      return steps;
    }
    await step('auth', 'Check the key and secret', async () => {
      const res = await request(this.cfg, this.egress, 'GET', 'statements?limit=1', null);
      if (res.status === 200) return { status: 1, message: 'the LRS accepted the key and secret' };
      if (res.status === 403) return { status: 2, message: 'the key may write statements but not read them' };
      if (res.status === 401) return { status: 3, message: 'the LRS refused the key and secret: enter them again' };
      return { status: 3, message: `the LRS answered ${res.status}` };
    });
    return steps;
  }
}

module.exports = { Sink, SinkError, ConfigError, parseConfig, redact, RETRYABLE, PERMANENT, UNAUTHENTICATED, FORBIDDEN };
