// A fault-injecting mirroring relay for the detection tests, written apart from src/relay on purpose: a plain UDP
// forwarder (one socket per device towards each backend, like a NAT) with switches for the faults a relay can have.
// It shares no code with the project, so a test that catches its faults checks the verdict, not the relay's own code.
//
//   node fault-relay.mjs --listen 127.0.16.1:20500 --primary 127.0.16.2 --mirror 127.0.16.3
//     [--ack-delay-ms N] [--ack-loss 0.21] [--uplink-loss 0.08] [--mirror-twice 0.05] [--alter-mirror 0.05] [--alter-both 0.05]
//     [--hold-mirror 0.1] [--hold-ms 250] [--wrong-side]
//     [--alter-ack] [--misdeliver-ack 0.1] [--leak-ack 0.1] [--junk-to-device 0.1] [--dead]
//     [--die-after-ms N] [--seed N]
// --uplink-loss drops a share of the devices' packets on arrival, before either backend gets a copy; --mirror-twice
// sends a share of them to the mirror twice; --alter-mirror flips a byte of a share of the mirror's copies, --alter-both
// of a share of the packets before either copy; --hold-mirror holds a share of the mirror's copies back --hold-ms
// (250 by default), so that they reach it after packets their device sent later;
// --misdeliver-ack hands a share of the ACKs to another device than the one that asked; --leak-ack sends a copy of a
// share of them to another device as well; --junk-to-device sends a datagram of bytes no backend sent (and no device
// could read as an ACK) to the device after a share of its ACKs.
import dgram from 'node:dgram';
import { seededRandom } from './seeded-random.mjs';

const args = new Map();
for (let i = 2; i < process.argv.length; i++) {
  const flag = process.argv[i];
  const next = process.argv[i + 1];
  if (next !== undefined && !next.startsWith('--')) {
    args.set(flag, next);
    i++;
  } else args.set(flag, 'true');
}
const [listenIp, listenPort] = String(args.get('--listen')).split(':');
const port = Number(listenPort);
const primary = args.get('--primary');
const mirror = args.get('--mirror');
const ackDelayMs = Number(args.get('--ack-delay-ms') ?? 0);
const ackLoss = Number(args.get('--ack-loss') ?? 0);
const uplinkLoss = Number(args.get('--uplink-loss') ?? 0);
const mirrorTwice = Number(args.get('--mirror-twice') ?? 0);
const alterMirror = Number(args.get('--alter-mirror') ?? 0);
const alterBoth = Number(args.get('--alter-both') ?? 0);
const misdeliverAck = Number(args.get('--misdeliver-ack') ?? 0);
const leakAck = Number(args.get('--leak-ack') ?? 0);
const junkToDevice = Number(args.get('--junk-to-device') ?? 0);
const holdMirror = Number(args.get('--hold-mirror') ?? 0);
const holdMs = Number(args.get('--hold-ms') ?? 250);
let junkSent = 0;
const wrongSide = args.has('--wrong-side');
const alterAck = args.has('--alter-ack');
const dead = args.has('--dead');
const random = seededRandom(Number(args.get('--seed') ?? 7));

const listener = dgram.createSocket('udp4');
/** @type {Map<string, { toPrimary: dgram.Socket; toMirror: dgram.Socket }>} */
const flows = new Map();

/**
 * @param {string} address
 * @param {number} sourcePort
 */
function flowOf(address, sourcePort) {
  const key = `${address}:${sourcePort}`;
  let flow = flows.get(key);
  if (flow) return flow;
  const toPrimary = dgram.createSocket('udp4');
  const toMirror = dgram.createSocket('udp4');
  toPrimary.bind(0, listenIp);
  toMirror.bind(0, listenIp);
  const answerFrom = wrongSide ? toMirror : toPrimary;
  const ignore = wrongSide ? toPrimary : toMirror;
  answerFrom.on('message', (ack) => {
    if (random() < ackLoss) return;
    const out = Buffer.from(ack);
    // The status byte of a CalAmp ACK (five from the end): an ACK turned into a NAK on the way to the device.
    if (alterAck) out.writeUInt8((out.readUInt8(out.length - 5) ^ 0xff) & 0xff, out.length - 5);
    // Another device's address, where there is one: the first flow that is not this one.
    const other = misdeliverAck > 0 && random() < misdeliverAck ? [...flows.keys()].find((k) => k !== key) : undefined;
    const [toAddress, toPort] = other === undefined ? [address, sourcePort] : [other.slice(0, other.lastIndexOf(':')), Number(other.slice(other.lastIndexOf(':') + 1))];
    const leakTo = leakAck > 0 && random() < leakAck ? [...flows.keys()].find((k) => k !== key) : undefined;
    const junk = junkToDevice > 0 && random() < junkToDevice ? Buffer.from(`relay junk ${junkSent++}`) : undefined;
    const send = () => {
      listener.send(out, toPort, toAddress);
      if (junk !== undefined) listener.send(junk, toPort, toAddress);
      if (leakTo !== undefined) listener.send(out, Number(leakTo.slice(leakTo.lastIndexOf(':') + 1)), leakTo.slice(0, leakTo.lastIndexOf(':')));
    };
    if (ackDelayMs > 0) setTimeout(send, ackDelayMs);
    else send();
  });
  ignore.on('message', () => undefined);
  toPrimary.on('error', () => undefined);
  toMirror.on('error', () => undefined);
  flow = { toPrimary, toMirror };
  flows.set(key, flow);
  return flow;
}

/**
 * A copy whose bytes no device sent: the last byte flipped.
 * @param {Buffer} payload
 */
function lastByteFlipped(payload) {
  const altered = Buffer.from(payload);
  altered.writeUInt8(altered.readUInt8(altered.length - 1) ^ 0xff, altered.length - 1);
  return altered;
}

listener.on('message', (payload, remote) => {
  if (dead) return;
  if (uplinkLoss > 0 && random() < uplinkLoss) return;
  const flow = flowOf(remote.address, remote.port);
  const copied = alterBoth > 0 && random() < alterBoth ? lastByteFlipped(payload) : payload;
  flow.toPrimary.send(copied, port, primary);
  if (mirror) {
    const altered = alterMirror > 0 && random() < alterMirror ? lastByteFlipped(copied) : copied;
    if (holdMirror > 0 && random() < holdMirror) setTimeout(() => flow.toMirror.send(altered, port, mirror), holdMs);
    else flow.toMirror.send(altered, port, mirror);
  }
  if (mirror && mirrorTwice > 0 && random() < mirrorTwice) flow.toMirror.send(copied, port, mirror);
});
listener.bind(port, listenIp, () => console.log(`fault relay on ${listenIp}:${port}`));
if (args.has('--die-after-ms')) setTimeout(() => {
  console.error('fault relay: dying as asked');
  // eslint-disable-next-line no-restricted-properties -- a peer process of its own: dying with a code is its job here
  process.exit(3);
}, Number(args.get('--die-after-ms')));
// eslint-disable-next-line no-restricted-properties -- a peer process of its own, stopped by the scenario with SIGTERM
process.on('SIGTERM', () => process.exit(0));
