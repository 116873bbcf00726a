import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { PolicyError } from '../cors/errors.js';
import { helpText, parseCommandLine, type CommandLine } from './args.js';
import { resolve } from 'node:path';
import { writeEtagCache } from '../static/asset-table.js';
import { resolveSettings, startupValues, type Settings } from './config.js';
import { serve } from './serve.js';
import { holdEarlyReloads } from './reload.js';
import { takeEarlySighup } from './early-signals.js';
import { stopWhileStarting } from './signals.js';
import { askForStartFiles, ConfigInForce } from './worker-start.js';
import { readingFrom, recordingReads } from '../static/operator-files.js';
import { supervise } from './supervisor.js';
import { printConfigNotes } from './config-notes.js';
import { guardOutput } from './output.js';
import { speaker } from '../static/stderr-line.js';

/**
 * Under --workers, the primary hashes the tree once into the ETag cache before forking, so each
 * worker's scan reads only what changed since (and the hashing is not multiplied by N). Without an
 * ETag cache each worker hashes the tree itself. A failure here is left to the workers to report.
 */
async function scanOnceForWorkers({ options }: Settings): Promise<void> {
  if (options.etagCache === undefined || options.etagCache === 'off') return;
  await writeEtagCache(resolve(options.root), resolve(options.etagCache)).catch(() => null);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `xorigin serve`: settings from every source, then one process, or a cluster primary that forks. */
async function run(cmd: CommandLine): Promise<void> {
  const command = cmd.positionals[0];
  if (command !== 'serve') {
    throw new PolicyError([{ option: 'command', value: command ?? null, reason: 'unknown or missing command', fix: 'run "xorigin serve DIR" or "xorigin check URL --origin O" (see --help)' }, ...cmd.problems]);
  }
  const reread = (): Settings => resolveSettings(cmd, process.env);
  // From here on: a SIGHUP while starting would end the process (its default action), and a worker
  // must not drop the primary's reload request while it scans.
  const held = holdEarlyReloads();
  // A worker is stopped by its primary, which says so for all of them.
  if (!cluster.isWorker) stopWhileStarting();
  if (cluster.isWorker) {
    // The configuration its primary has in force, not the files as they are now (worker-start.ts).
    const { files, startup } = await askForStartFiles();
    await serve(readingFrom(files, () => resolveSettings(cmd, process.env, startup), true), files, reread, held);
    return;
  }
  // The same checks with and without --workers, before anything listens or forks.
  const first = recordingReads(reread);
  const settings = first.value;
  printConfigNotes(settings, first.files);
  if (settings.workers === 1) {
    await serve(settings, first.files, reread, held);
    return;
  }
  await scanOnceForWorkers(settings);
  const reload = supervise(settings, reread, new ConfigInForce(startupValues(settings), first.files));
  // Asked for during the scan: validated now, and what the workers just forked will start from.
  if (held.release() !== null) reload();
}

async function main(argv: string[]): Promise<void> {
  // A reader of stdout or stderr gone (`| head`) must not end a server, or a check mid-output.
  guardOutput();
  // `xorigin check`: its own flags (src/cli/check.ts), its own exit codes (0 allowed, 1 blocked, 2 error).
  if (argv[0] === 'check') {
    // Loaded only for this command: its HTTPS client (node:https, node:tls) is 2.3 MB of resident
    // memory a server does not need.
    takeEarlySighup(); // a SIGHUP ends `check` as it ends any command
    const { runCheck } = await import('./check.js');
    process.exitCode = await runCheck(argv.slice(1), { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) });
    return;
  }
  if (argv.length === 0) {
    // Nothing asked: what there is to ask, as an error (exit 2), since nothing was done.
    process.stderr.write(`${helpText()}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const cmd = parseCommandLine(argv);
    if ((cmd.help || cmd.version) && cmd.problems.length > 0) throw new PolicyError(cmd.problems);
    if (cmd.help) process.stdout.write(`${helpText()}\n`);
    else if (cmd.version) process.stdout.write(`${version()}\n`);
    else await run(cmd);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    // Invalid options: every problem at once, exit 2.
    // Exit once it is written: process.exit at once cut a long list short when stderr is a pipe.
    // A worker names itself (the primary's next line says which worker died).
    process.stderr.write(`${cluster.isWorker ? speaker() : ''}${e.message}\n`, () => process.exit(2));
  }
}

await main(process.argv.slice(2));
