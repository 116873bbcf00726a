// Preloaded into each server by `node bench/rss.js --heap` (NODE_OPTIONS=--import): on SIGWINCH,
// which none of the servers uses, writes V8's heap spaces to $BENCH_HEAP_OUT as
// { space: [size MiB, used MiB] }. NODE_OPTIONS leaves process.execArgv alone, so xorigin's own
// young-generation setting (src/cli/young-generation.ts) is what it would be without the probe.
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

process.on('SIGWINCH', () => {
  const mib = (n) => Number((n / 1048576).toFixed(2));
  const spaces = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = [mib(s.space_size), mib(s.space_used_size)];
  writeFileSync(process.env.BENCH_HEAP_OUT, JSON.stringify(spaces));
});
