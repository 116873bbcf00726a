// Shared set-up for the benchmark servers: each runs as its own process, reads its policy and root
// from the environment, listens on 127.0.0.1 (port 0) and prints "ready PORT" for the harness.
import { readFileSync } from 'node:fs';

/** { exact: string[], pattern: string | null, methods, allowedHeaders, maxAge } */
export const policy = JSON.parse(readFileSync(process.env.BENCH_POLICY, 'utf8'));
export const root = process.env.BENCH_ROOT;

/** The subdomain pattern `https://*.example.org` as the RegExp the npm peers take. */
export const patternRegex =
  policy.pattern === null ? null : new RegExp(`^https://([a-z0-9-]+\\.)+${policy.pattern.slice('https://*.'.length).replace(/\./g, '\\.')}$`);

/** The origin list in the form npm `cors` and `@fastify/cors` accept. */
export const originList = patternRegex === null ? policy.exact : [...policy.exact, patternRegex];

export function ready(server) {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
}

/**
 * `listener` as it is, or, with BENCH_SPIN_US=N (whole µs, at least 1), one that first spins for N µs:
 * a ceiling slowed to about xorigin's rate by work that is neither I/O nor allocation (bench/cpu-split.js).
 * Chosen once at start-up, so the ceiling's own path is unchanged without it.
 */
export function spinning(listener) {
  const us = process.env.BENCH_SPIN_US;
  if (us === undefined || us === '') return listener;
  if (!/^[1-9]\d*$/.test(us)) throw new Error(`BENCH_SPIN_US: ${JSON.stringify(us)} is not a whole number of µs of at least 1`);
  const ms = Number(us) / 1000;
  return (req, res) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
    listener(req, res);
  };
}
