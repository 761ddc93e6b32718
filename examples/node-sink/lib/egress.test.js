'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { refusal } = require('./egress.js');

test('refuses special addresses in every form', () => {
  const refused = ['127.0.0.1', '10.1.2.3', '169.254.169.254', '::1', '::ffff:127.0.0.1',
    '::7f00:1', '::ffff:0:7f00:1', '64:ff9b::a00:1', '2002:7f00:1::', 'fe80::1', 'fd00:ec2::254', '0.0.0.0'];
  for (const a of refused) assert.notStrictEqual(refusal(a, {}), null, a);
});

test('allows public addresses and allow-listed ranges', () => {
  assert.strictEqual(refusal('93.184.216.34', {}), null);
  assert.strictEqual(refusal('2606:4700::1', {}), null);
  assert.strictEqual(refusal('127.0.0.1', { allow_cidrs: ['127.0.0.0/8'] }), null);
  assert.strictEqual(refusal('::ffff:127.0.0.1', { allow_cidrs: ['127.0.0.0/8'] }), null);
  assert.match(refusal('169.254.169.254', {}), /metadata/);
});

test('gives the reason of the address kind', () => {
  assert.strictEqual(refusal('::1', {}), 'a loopback address');
  assert.strictEqual(refusal('::ffff:127.0.0.1', {}), 'a loopback address');
  assert.strictEqual(refusal('::7f00:1', {}), 'a loopback address (embedded in an IPv4-compatible IPv6 address)');
  assert.strictEqual(refusal('64:ff9b::7f00:1', {}), 'a loopback address (embedded in an IPv6 translation address)');
  assert.match(refusal('2001:0:4136:e378:8000:63bf:f5ff:fffe', {}), /private address \(embedded in a Teredo/);
});
