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
