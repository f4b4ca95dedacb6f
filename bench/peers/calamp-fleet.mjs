#!/usr/bin/env node
// An independent CalAmp device fleet for relay benchmarks, written apart from the harness's own protocol and replay
// code: it builds LMD event reports by hand, sends each device from its own loopback address, and checks every ACK it
// gets against the sequence numbers that device alone uses. Optionally a junk sender floods the same port from many
// addresses. Prints one JSON object when done.
//
//   node calamp-fleet.mjs --relay 127.0.8.1:20500 --devices 200 --rate 1000 --seconds 10
//                         [--junk-rate 5000 --junk-sources 2000] [--grace-ms 3000]
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    relay: { type: 'string' },
    devices: { type: 'string', default: '200' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    'junk-rate': { type: 'string', default: '0' },
    'junk-sources': { type: 'string', default: '0' },
    'grace-ms': { type: 'string', default: '3000' },
  },
});
const [relayIp, relayPortText] = String(values.relay).split(':');
const relayPort = Number(relayPortText);
const deviceCount = Number(values.devices);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const junkRate = Number(values['junk-rate']);
const junkSources = Number(values['junk-sources']);
const graceMs = Number(values['grace-ms']);
// Each device owns a disjoint block of sequence numbers: an ACK outside its block was meant for another device.
const SEQ_BLOCK = Math.floor(65536 / deviceCount);

/** @param {number} index @param {number} base */
function addressOf(index, base) {
  return `127.${base}.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

/** @param {number} device @param {number} sequence */
function eventReport(device, sequence) {
  const mobileId = String(4_100_000_000 + device).padStart(10, '0');
  const bcd = Buffer.alloc(5);
  for (let i = 0; i < 5; i++) bcd[i] = (Number(mobileId[2 * i]) << 4) | Number(mobileId[2 * i + 1]);
  // options: present, mobile ID, mobile ID type (ESN); then service type 1 (acknowledged), type 2, the sequence, a body.
  return Buffer.concat([Buffer.from([0x83, 5]), bcd, Buffer.from([1, 1, 1, 2, sequence >> 8, sequence & 0xff]), Buffer.alloc(24, device & 0xff)]);
}

/** @param {string} ip @returns {Promise<dgram.Socket>} */
function openSocket(ip) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
    socket.once('error', reject);
    socket.bind(0, ip, () => resolve(socket));
  });
}

/** @typedef {{ index: number, socket: dgram.Socket, next: number, sentAt: Map<number, bigint>, acked: number, crossDevice: number, duplicates: number, rtts: number[] }} Device */
/** @type {Device[]} */
const devices = [];
for (let i = 0; i < deviceCount; i++) {
  const socket = await openSocket(addressOf(i, 21));
  /** @type {Device} */
  const device = { index: i, socket, next: 0, sentAt: new Map(), acked: 0, crossDevice: 0, duplicates: 0, rtts: [] };
  socket.on('message', (ack) => {
    if (ack.length < 4) return;
    const sequence = ((ack[2] ?? 0) << 8) | (ack[3] ?? 0);
    if (Math.floor(sequence / SEQ_BLOCK) !== i) {
      device.crossDevice++;
      return;
    }
    const sent = device.sentAt.get(sequence);
    if (sent === undefined) {
      device.duplicates++;
      return;
    }
    device.sentAt.delete(sequence);
    device.acked++;
    device.rtts.push(Number(process.hrtime.bigint() - sent) / 1e6);
  });
  devices.push(device);
}
/** @type {dgram.Socket[]} */
const junk = [];
for (let i = 0; i < junkSources; i++) junk.push(await openSocket(addressOf(i, 22)));

let sent = 0;
let junkSent = 0;
let sendErrors = 0;
const tickMs = 5;
const startMs = Date.now();
let cursor = 0;
let junkCursor = 0;
let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const elapsed = Date.now() - startMs;
    if (elapsed >= seconds * 1000) {
      clearInterval(timer);
      resolve(undefined);
      return;
    }
    const due = Math.floor((elapsed / 1000) * rate);
    while (sent < due) {
      const device = /** @type {Device} */ (devices[cursor++ % deviceCount]);
      const sequence = device.index * SEQ_BLOCK + (device.next++ % SEQ_BLOCK);
      device.sentAt.set(sequence, process.hrtime.bigint());
      device.socket.send(eventReport(device.index, sequence), relayPort, relayIp, (/** @type {Error | null} */ error) => error && sendErrors++);
      sent++;
    }
    const junkDue = Math.floor((elapsed / 1000) * junkRate);
    while (junkSent < junkDue && junk.length > 0) {
      const socket = /** @type {dgram.Socket} */ (junk[junkCursor++ % junk.length]);
      const kind = junkSent % 3;
      const payload = kind === 0 ? Buffer.alloc(0) : kind === 1 ? Buffer.from(Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256))) : Buffer.alloc(1400, 0xff);
      socket.send(payload, relayPort, relayIp, (/** @type {Error | null} */ error) => error && sendErrors++);
      junkSent++;
    }
  }, tickMs);
});
await new Promise((resolve) => setTimeout(resolve, graceMs));
for (const socket of [...devices.map((d) => d.socket), ...junk]) socket.close();

const rtts = devices.flatMap((d) => d.rtts).sort((a, b) => a - b);
const pick = (/** @type {number} */ q) => (rtts.length === 0 ? null : rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))]);
const acked = devices.reduce((sum, d) => sum + d.acked, 0);
process.stdout.write(
  `${JSON.stringify({
    devices: deviceCount,
    sent,
    acked,
    lossPct: sent === 0 ? null : (100 * (sent - acked)) / sent,
    crossDevice: devices.reduce((sum, d) => sum + d.crossDevice, 0),
    duplicates: devices.reduce((sum, d) => sum + d.duplicates, 0),
    junkSent,
    sendErrors,
    rttP50Ms: pick(0.5),
    rttP99Ms: pick(0.99),
  })}\n`,
);
