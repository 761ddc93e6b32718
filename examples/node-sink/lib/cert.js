'use strict';
// A self-signed ECDSA P-256 certificate for the plugin's side of the mutual
// TLS connection with the lrsbridge host. Node.js can make keys and signatures
// but not certificates, so the DER is assembled here: a version 3 certificate
// for "localhost" that is its own CA (the host trusts exactly this
// certificate, which the plugin announces in its handshake line), usable for
// server and client authentication.

const crypto = require('node:crypto');

function len(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n >>= 8;
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...parts) => tlv(0x30, ...parts);
const set = (...parts) => tlv(0x31, ...parts);

function oid(dotted) {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    let v = arc >>> 7;
    while (v > 0) {
      chunk.unshift(0x80 | (v & 0x7f));
      v >>>= 7;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function positiveInteger(bytes) {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function utcTime(d) {
  const p = (n) => String(n).padStart(2, '0');
  const s = p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
    p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + 'Z';
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

function extension(id, critical, value) {
  const parts = [oid(id)];
  if (critical) parts.push(tlv(0x01, Buffer.from([0xff])));
  parts.push(tlv(0x04, value));
  return seq(...parts);
}

// selfSigned returns {certPEM, keyPEM, der} of a new certificate valid from
// a minute ago for validDays days.
function selfSigned(validDays = 30) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('localhost')))));
  const sigAlg = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const now = Date.now();
  const extensions = seq(
    // basicConstraints: CA
    extension('2.5.29.19', true, seq(tlv(0x01, Buffer.from([0xff])))),
    // keyUsage: digitalSignature, keyCertSign
    extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x02, 0x84]))),
    // extKeyUsage: serverAuth, clientAuth
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
    // subjectAltName: DNS localhost
    extension('2.5.29.17', false, seq(tlv(0x82, Buffer.from('localhost')))),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version 3
    positiveInteger(crypto.randomBytes(16)),
    sigAlg,
    name,
    seq(utcTime(new Date(now - 60e3)), utcTime(new Date(now + validDays * 86400e3))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, extensions),
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  const der = seq(tbs, sigAlg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64').match(/.{1,64}/g).join('\n');
  return {
    der,
    certPEM: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPEM: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  };
}

module.exports = { selfSigned };
