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
