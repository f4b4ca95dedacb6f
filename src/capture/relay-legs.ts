import { UsageError } from '../core/errors.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, type Store } from '../store/store.ts';
import type { CaptureFlows } from './capture-flows.ts';

const DESTINATIONS_SQL = loadSql(import.meta.url, './sql/route-destinations.sql');

export interface RouteDestination {
  ip: string;
  datagrams: number;
  /** Sending sockets (address and port). */
  senders: number;
  /** Sending addresses: many for a relay's listening address, the relay's own one for each of its backends. */
  senderAddresses: number;
}

/** Which leg of a mirroring relay a capture's route-port traffic is, and what was set aside as not device uplink. */
export interface RelayLegs {
  /** The relay's addresses: their route-port traffic is the device uplink a replay sends. */
  relay: string[];
  /** How they were chosen: given (--relay-addr), detected (the address the most addresses send to), or the only one. */
  how: 'given' | 'detected' | 'only';
  /** Other addresses receiving on the route ports (a relay's backends): not replayed. */
  setAside: RouteDestination[];
}

/**
 * Finds the relay's legs in an imported capture and records the relay's addresses with it, so that only device
 * uplink is replayed. Given `--relay-addr`, those addresses are the relay's; otherwise the address the most addresses send
 * to on the route ports is taken for it (devices are many; a relay forwards to its backends from its own address),
 * and the choice is said.
 */
export async function resolveRelayLegs(store: Store, flows: CaptureFlows, routePorts: readonly number[], given: readonly string[] | undefined): Promise<RelayLegs | undefined> {
  if (routePorts.length === 0) return undefined;
  const { captureId } = flows;
  const rows = await store.query(DESTINATIONS_SQL, { capture_id: captureId, route_ports: `[${routePorts.join(',')}]` });
  const destinations = rows.map((row) => ({ ip: str(row.ip), id: num(row.address_id), datagrams: num(row.datagrams), senders: num(row.senders), senderAddresses: num(row.sender_addresses) }));
  if (destinations.length === 0) return undefined;
  let relay: typeof destinations;
  let how: RelayLegs['how'];
  if (given !== undefined && given.length > 0) {
    relay = destinations.filter((d) => given.includes(d.ip));
    if (relay.length === 0) {
      const heard = destinations.map((d) => `${d.ip} (${plural(d.senderAddresses, 'sending address', 'sending addresses')})`).join(', ');
      throw new UsageError(`--relay-addr ${given.join(',')}: receives nothing on the route ports ${routePorts.join(',')}; addresses that do: ${heard}`, { field: 'relay-addr' });
    }
    how = 'given';
  } else {
    relay = destinations.slice(0, 1);
    how = destinations.length === 1 ? 'only' : 'detected';
  }
  const ids = relay.map((d) => d.id);
  await store.exec('UPDATE captures SET relay_address_ids = $ids::INTEGER[] WHERE capture_id = $id', { id: captureId, ids: `[${ids.join(',')}]` });
  const strip = ({ ip, datagrams, senders, senderAddresses }: (typeof destinations)[number]): RouteDestination => ({ ip, datagrams, senders, senderAddresses });
  return { relay: relay.map((d) => d.ip), how, setAside: destinations.filter((d) => !ids.includes(d.id)).map(strip) };
}

/** What an import says about the legs it found: nothing for a plain device capture; the relay and what was set aside otherwise. */
export function describeRelayLegs(capture: string, legs: RelayLegs | undefined): string[] {
  if (legs === undefined || (legs.how === 'only' && legs.setAside.length === 0)) return [];
  const relay = legs.relay.join(', ');
  const aside = legs.setAside.map((d) => `${d.ip} (${d.datagrams.toLocaleString('en-US')} datagrams from ${plural(d.senderAddresses, 'address', 'addresses')})`).join(', ');
  if (legs.how === 'given') return [`${capture}: uplink to the relay at ${relay} kept for replay${aside === '' ? '' : `; set aside as not device uplink: ${aside}`}`];
  return [
    `${capture}: the capture mixes legs: ${relay} hears from the most addresses and is taken as the relay (its uplink is what replays); ` +
      `set aside as the relay's forwarded copies or other traffic: ${aside}. Pass --relay-addr to choose otherwise.`,
  ];
}

function plural(count: number, one: string, many: string): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
