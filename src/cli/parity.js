#!/usr/bin/env node
// The `parity` command. The harness runs from its TypeScript sources through tsx's loader, so there is no build
// step between `npm ci` and a working `npx parity`, and subprocesses (relay, backends) start from the same code.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
