'use strict';
// The operator's egress policy, applied to every address this plugin connects
// to: loopback, private, link-local, metadata and other special addresses are
// refused unless the host's policy lists them in allow_cidrs. IPv4 addresses
// inside IPv6 (mapped, compatible, NAT64, 6to4) are checked as IPv4. The
// check runs on the resolved address at connect time, so a name that
// resolves to a refused address is refused too.

const net = require('node:net');
const dns = require('node:dns');

const REFUSED = [
  ['169.254.169.254/32', 'a cloud metadata service address'],
  ['169.254.170.2/32', 'a cloud metadata service address'],
  ['169.254.169.253/32', 'a cloud DNS service address'],
  ['100.100.100.200/32', 'a cloud metadata service address'],
  ['fd00:ec2::254/128', 'a cloud metadata service address'],
  ['fd00:ec2::253/128', 'a cloud DNS service address'],
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['10.0.0.0/8', 'a private address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.168.0.0/16', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT (shared) address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['192.0.0.0/24', 'an IETF protocol assignment address'],
  ['192.0.2.0/24', 'a documentation address'],
  ['198.51.100.0/24', 'a documentation address'],
  ['203.0.113.0/24', 'a documentation address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved or broadcast address'],
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['fc00::/7', 'a private (unique local) address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['ff00::/8', 'a multicast address'],
  ['100::/64', 'a discard address'],
  ['2001:db8::/32', 'a documentation address'],
  ['64:ff9b:1::/48', 'a local-use NAT64 address'],
];

// bytes16 returns the 16 bytes of an IPv6 address in text form.
function bytes16(text) {
  let s = text.split('%')[0];
  const tail = [];
  const dotted = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    tail.push(...dotted[1].split('.').map(Number));
    s = s.slice(0, -dotted[1].length) + '0:0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, null];
  const groups = (x) => (x ? x.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const r = rest === null ? [] : groups(rest);
  const zeros = rest === null ? 0 : 8 - h.length - r.length;
  const all = [...h, ...Array(zeros).fill('0'), ...r].map((g) => parseInt(g, 16));
  const out = [];
  for (const g of all) out.push(g >> 8, g & 0xff);
  if (tail.length) out.splice(12, 4, ...tail);
  return out;
}

function prefixContains(cidr, family, bytes) {
  const [base, bitsText] = cidr.split('/');
  const baseFamily = net.isIP(base);
  if (baseFamily !== family) return false;
  const b = family === 4 ? base.split('.').map(Number) : bytes16(base);
  let bits = Number(bitsText);
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i] & mask) !== (bytes[i] & mask)) return false;
  }
  return true;
}

// embeddedIPv4 returns the IPv4 addresses carried inside an IPv6 address
// and the kind of address that carries them, or null.
function embeddedIPv4(b) {
  const zero = (from, to) => b.slice(from, to).every((x) => x === 0);
  const v4 = (i) => b.slice(i, i + 4).join('.');
  if (zero(0, 12)) return { addrs: [v4(12)], kind: 'an IPv4-compatible IPv6 address' }; // ::/96
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) {
    return { addrs: [v4(12)], kind: 'an IPv4-translated IPv6 address' }; // ::ffff:0:0/96
  }
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) {
    return { addrs: [v4(12)], kind: 'an IPv6 translation address' }; // NAT64 64:ff9b::/96
  }
  if (b[0] === 0x20 && b[1] === 0x02) return { addrs: [v4(2)], kind: 'an IPv6 translation address' }; // 6to4
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) { // Teredo 2001::/32
    const client = b.slice(12, 16).map((x) => (~x) & 0xff).join('.');
    return { addrs: [client, v4(4)], kind: 'a Teredo IPv6 address' };
  }
  return null;
}

// refusal returns why the policy refuses address, or null when it is allowed.
// IPv4-mapped addresses are checked as IPv4; the IPv4 addresses embedded in
// other IPv6 forms are checked after the IPv6 ranges.
function refusal(address, policy) {
  const plain = address.split('%')[0];
  const family = net.isIP(plain);
  if (family === 0) return 'not a valid address';
  let bytes = family === 4 ? plain.split('.').map(Number) : bytes16(plain);
  let fam = family;
  if (family === 6 && bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    bytes = bytes.slice(12);
    fam = 4;
  }
  const allowed = (policy.allow_cidrs || []).some((c) => prefixContains(c, fam, bytes));
  if (allowed) return null;
  for (const [cidr, reason] of REFUSED) {
    if (prefixContains(cidr, fam, bytes)) return reason;
  }
  if (fam === 6) {
    const inner = embeddedIPv4(bytes);
    if (inner !== null) {
      for (const a of inner.addrs) {
        const why = refusal(a, policy);
        if (why !== null) return `${why} (embedded in ${inner.kind})`;
      }
    }
  }
  return null;
}

// EgressError is a connection the policy refused.
class EgressError extends Error {
  constructor(host, address, reason) {
    const shown = host && host !== address ? `${host} (resolved to ${address})` : address;
    super(`egress policy refused ${shown}: ${reason}`);
    this.name = 'EgressError';
  }
}

// lookup is a dns.lookup replacement for http.request's "lookup" option that
// refuses every resolved address the policy refuses.
function lookupFor(policy) {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      for (const a of addresses) {
        const why = refusal(a.address, policy);
        if (why !== null) return callback(new EgressError(hostname, a.address, why));
      }
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

// checkLiteral refuses a URL whose host is an address literal the policy
// refuses (Node connects to literals without a lookup).
function checkLiteral(hostname, policy) {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host) === 0) return null;
  const why = refusal(host, policy);
  return why === null ? null : new EgressError(host, host, why);
}

module.exports = { refusal, lookupFor, checkLiteral, EgressError };
