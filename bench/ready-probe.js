// Preloaded into `xorigin serve` by `bench/memory.js --part startup` (node --expose-gc --import):
// when the server prints its "listening on" line, writes one line to stderr with the ms since the
// process started, process.memoryUsage() at that moment, and the heap still used after a full GC
// (what is live; the rest is garbage V8 has not collected yet).
const write = process.stdout.write.bind(process.stdout);
let done = false;
process.stdout.write = (chunk, ...rest) => {
  if (!done && String(chunk).includes('listening on')) {
    done = true;
    const ms = performance.now();
    const at = process.memoryUsage();
    globalThis.gc?.();
    const live = process.memoryUsage();
    process.stderr.write(`ready-probe ${JSON.stringify({ ms, rss: at.rss, heapUsed: at.heapUsed, heapTotal: at.heapTotal, liveHeap: live.heapUsed })}\n`);
  }
  return write(chunk, ...rest);
};
