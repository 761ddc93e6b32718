'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { parseConfig, redact } = require('./lrs.js');

function configWith(secret) {
  const raw = JSON.stringify({ endpoint: 'https://lrs.example/xapi/', key: 'node-key', secret, xapi_version: '1.0.3' });
  return parseConfig(Buffer.from(raw), {});
}

test('redacts the secret, the credential pair and their base64 forms, in any letter case', () => {
  const cfg = configWith('S3cret-Value');
  const pair = Buffer.from('node-key:S3cret-Value').toString('base64');
  const text = `echo S3cret-Value s3cret-value ${pair} ${Buffer.from('S3cret-Value').toString('base64')}`;
  const out = redact(text, cfg);
  for (const leak of ['S3cret-Value', 's3cret-value', pair]) assert.ok(!out.includes(leak), `${out} holds ${leak}`);
  assert.strictEqual(redact('nothing secret here', cfg), 'nothing secret here');
});

test('the marker beside the text around a secret does not spell it again', () => {
  // "]00x" after "[redacted]" in "q[redacted]00x...", again after each replacement.
  const cfg = configWith(']00x');
  const out = redact('q]00x00x00x00x', cfg);
  assert.ok(!out.toLowerCase().includes(']00x'), out);
});
