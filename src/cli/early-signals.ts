/**
 * SIGHUP's default action ends a process, and loading the CLI's modules (node:http2, node:crypto,
 * the server) takes a few hundred milliseconds before it can listen for one: a SIGHUP sent to a
 * whole group of processes then (`pkill -HUP`, a closing terminal) ended a worker still starting,
 * and with it, at start-up, the whole command. This module is evaluated first (main.ts) and only
 * notes the signal until the CLI holds reloads itself (reload.ts holdEarlyReloads).
 */
let seen = false;
const note = (): void => {
  seen = true;
};
process.on('SIGHUP', note);

/** Whether a SIGHUP came before now; SIGHUP is the caller's from here (listen first, then call this). */
export function takeEarlySighup(): boolean {
  process.off('SIGHUP', note);
  return seen;
}

/**
 * Signals whose default would hurt a server reached by habits from nginx: SIGUSR1 (nginx: reopen the
 * logs, sent by logrotate recipes) opens Node's inspector on 127.0.0.1:9229, with no authentication,
 * through which any local user could run code in the server and read its TLS key; SIGUSR2 (nginx:
 * binary upgrade) ends the process at once, cutting every response. A listener of their own keeps
 * both from their default; each one received is said on stderr.
 */
const ignored = (signal: string, why: string) => (): void => {
  process.stderr.write(`xorigin: ${signal} ignored: ${why}\n`);
};
process.on('SIGUSR1', ignored('SIGUSR1', 'the access log goes to stdout, so there is no log file to reopen (and no debugger is opened by a signal here: start node with --inspect to debug)'));
process.on('SIGUSR2', ignored('SIGUSR2', 'there is no binary upgrade; SIGHUP reloads the configuration and certificates, SIGTERM stops gracefully'));
