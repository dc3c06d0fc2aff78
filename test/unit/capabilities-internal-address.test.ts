// Proves: a resolved address is internal when it is loopback, private, link-local, unique-local, CGNAT, multicast, unspecified, documentation, or an IPv6 form embedding an IPv4 address, whatever its textual form; anything that is not an IP address counts as internal.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {isInternalAddress} from '../../src/capabilities/index.js';

const INTERNAL = [
  '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.255',
  '0.0.0.0', '224.0.0.1', '239.1.1.1', '255.255.255.255', '198.18.0.1', '192.0.2.1', '198.51.100.7', '203.0.113.9',
  '::1', '0:0:0:0:0:0:0:1', '::', 'fd00::1', 'FC00::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:8.8.8.8',
  '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::', '2001:0:4136:e378::1', '2001:db8::1', '100::1',
  'localhost', 'example.com', '', 'not an ip',
];
const PUBLIC = ['8.8.8.8', '93.184.216.34', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'];

describe('capabilities: isInternalAddress', () => {
  it('internal addresses, in any textual form, and non-addresses', () => {
    for (const a of INTERNAL) assert.equal(isInternalAddress(a), true, a);
  });
  it('public addresses', () => {
    for (const a of PUBLIC) assert.equal(isInternalAddress(a), false, a);
  });
});
