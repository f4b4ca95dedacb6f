import { debuglog } from 'node:util';

/** `NODE_DEBUG=parity` shows what the harness is doing, as `NODE_DEBUG=undici` does for undici. */
export const debug = debuglog('parity');
