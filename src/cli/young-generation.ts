/**
 * V8 makes new objects in its young generation and doubles it (`--semi-space-growth-factor`,
 * default 2) whenever the bytes that survived its scavenges since the last doubling exceed its
 * size; while the process keeps allocating, it does not give it back. A server's start-up is such a
 * burst: the CLI's ~85 modules, the compiled policy and the asset table all survive. So xorigin met
 * its first request with a young generation doubled by start-up alone (4 MiB of new space, 1 in a
 * bare node process), and the load doubled it again, to 8: ~3 MB of RSS (`bench/rss.js --heap`).
 *
 * So the growth factor is 1 from the first line of main.ts until the server listens (serve.ts
 * calls releaseYoungGeneration), and from then on V8 sizes the young generation for the load as
 * it would in any process. A `--workers` primary never listens and keeps it small. A factor the
 * operator gave node (`node --semi-space-growth-factor=N`; NODE_OPTIONS may not carry it) is left
 * alone. V8 reads the flag each time it grows the space, which is why setting it after start-up
 * works; a V8 that stopped reading it so would make this a no-op, nothing worse.
 */
import { setFlagsFromString } from 'node:v8';

const GROWTH_FLAG = '--semi-space-growth-factor';
const V8_DEFAULT_GROWTH = 2;

let held = false;
if (!process.execArgv.some((arg) => arg.startsWith(GROWTH_FLAG) || arg.startsWith('--semi_space_growth_factor'))) {
  setFlagsFromString(`${GROWTH_FLAG}=1`);
  held = true;
}

/** Lets V8 grow the young generation again, by its default factor; called once the server listens. */
export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`${GROWTH_FLAG}=${String(V8_DEFAULT_GROWTH)}`);
}
