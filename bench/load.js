// The load generator, run by run.js as its own process (pinned to its own core): autocannon against
// one URL, then one JSON line with req/s, p99 and this process's own CPU use, so a run where the
// generator was the bottleneck can be flagged instead of reported as a server figure.
//
//   node load.js '{"url":"http://127.0.0.1:8080/x","method":"GET","headers":{},"duration":3,"warmup":1,"connections":32}'
import autocannon from 'autocannon';

const o = JSON.parse(process.argv[2]);
const run = (duration) =>
  autocannon({ url: o.url, method: o.method, headers: o.headers, connections: o.connections, duration, pipelining: 1 });

if (o.warmup > 0) await run(o.warmup);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const r = await run(o.duration);
const wall = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    rps: r.requests.average,
    total: r.requests.total,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    statusCodes: r.statusCodeStats,
    mbps: r.throughput.average / 1e6,
    cpu: (cpu.user + cpu.system) / 1000 / wall,
  })}\n`,
);
