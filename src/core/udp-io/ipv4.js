// IPv4 addresses as the C datagram path takes them (an unsigned 32-bit number in host order), and its errors. Plain
// JavaScript: the replayer's sending thread runs without the TypeScript loader and uses it too.
import { getSystemErrorName } from 'node:util';

/** Addresses remembered at most, each way: devices repeat, so each is converted once. */
const CACHE_LIMIT = 65_536;

/** @param {string} address a dotted IPv4 address @returns {number} */
export function ipv4Number(address) {
  const parts = address.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) >>> 0) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0);
}

/** Addresses converted between their dotted text and their number once each, both ways remembered. */
export class Ipv4Addresses {
  /** @type {Map<number, string>} */
  #texts = new Map();
  /** @type {Map<string, number>} */
  #numbers = new Map();

  /** @param {number} ip @returns {string} */
  text(ip) {
    let text = this.#texts.get(ip);
    if (text === undefined) {
      if (this.#texts.size >= CACHE_LIMIT) this.#texts.clear();
      text = `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
      this.#texts.set(ip, text);
    }
    return text;
  }

  /** @param {string} address a dotted IPv4 address @returns {number} */
  number(address) {
    let ip = this.#numbers.get(address);
    if (ip === undefined) {
      if (this.#numbers.size >= CACHE_LIMIT) this.#numbers.clear();
      ip = ipv4Number(address);
      this.#numbers.set(address, ip);
    }
    return ip;
  }
}

/** Whether a send's result (-errno) is a full socket buffer, to be tried again once it drains. @param {number} result */
export function wouldBlock(result) {
  if (result >= 0) return false;
  const name = getSystemErrorName(result);
  return name === 'EAGAIN' || name === 'EWOULDBLOCK' || name === 'ENOBUFS';
}
