/**
 * HTTP-date, RFC 9110 §5.6.7: the preferred IMF-fixdate and the two obsolete forms a recipient
 * must still accept. Case-sensitive and strict; anything else is NaN, never a guess.
 */

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const MONTH_INDEX = new Map(MONTHS.split('|').map((m, i) => [m, i]));
// RFC 9110 §5.6.7, case-sensitive: IMF-fixdate, then the two obsolete forms a recipient must accept.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTHS}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTHS})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTHS}) ( \\d|\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7) in milliseconds, or NaN when the value is not one: anything else
 * (ISO dates, a bare year, a date without GMT) must make the condition be ignored, which
 * `Date.parse` would not do; it also reads asctime dates in the server's local time zone.
 * `now` (ms) only anchors a two-digit rfc850 year.
 */
export function parseHttpDate(value: string, now = Date.now()): number {
  // Field order in each form: [day, month, year, hour, minute, second].
  let f: (string | undefined)[];
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) f = [m[1], m[2], m[3], m[4], m[5], m[6]];
  else if ((m = RFC850_DATE.exec(value)) !== null) f = [m[1], m[2], m[3], m[4], m[5], m[6]];
  else if ((m = ASCTIME_DATE.exec(value)) !== null) f = [m[2], m[1], m[6], m[3], m[4], m[5]];
  else return NaN;
  const day = Number((f[0] as string).trim());
  const month = MONTH_INDEX.get(f[1] as string) as number;
  const year = Number(f[2]);
  const hour = Number(f[3]);
  const minute = Number(f[4]);
  const second = Number(f[5]);
  if (hour > 23 || minute > 59 || second > 60) return NaN; // 60: a leap second
  if ((f[2] as string).length === 2) return rfc850Instant(year, month, day, hour, minute, second, now);
  return instant(year, month, day, hour, minute, second);
}

/**
 * A two-digit rfc850 year: read in the current century, then, as RFC 9110 §5.6.7 asks, a timestamp
 * more than 50 years after `now` is in the most recent past year with those digits (and one more than
 * a century before that 50-year mark is a century later). The timestamp, not the year: on 6 Dec 2026,
 * 31-Dec-76 is 1976, and 01-Jan-76 is 2076.
 */
function rfc850Instant(yy: number, month: number, day: number, hour: number, minute: number, second: number, now: number): number {
  const mark = new Date(now);
  const current = mark.getUTCFullYear();
  const limit = mark.setUTCFullYear(current + 50);
  let year = Math.floor(current / 100) * 100 + yy;
  // Compared as given, a 29 Feb rolled over if need be: which century has that day is asked last.
  const at = (y: number): number => new Date(0).setUTCFullYear(y, month, day) + ((hour * 60 + minute) * 60 + second) * 1000;
  if (at(year) > limit) year -= 100;
  else if (at(year + 100) <= limit) year += 100;
  return instant(year, month, day, hour, minute, second);
}

/**
 * The instant in ms, or NaN for a day the month does not have (31 Feb rolls over, and is refused; so
 * does 29 Feb outside a leap year). setUTCFullYear, not Date.UTC, which reads years below 100 as 19xx.
 */
function instant(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return NaN;
  return date.setUTCHours(hour, minute, second);
}

let currentText = '';
/** When the second `currentText` names ends (ms since the epoch). */
let currentEnd = 0;

/**
 * Now as an IMF-fixdate, for a response's Date (RFC 9110 §6.6.1): made once a second at most. The
 * clock is read on every call, not left to a timer to say the second is over: a timer runs only
 * between turns of the event loop, and a busy loop would give the last second's date meanwhile.
 * A clock set back (NTP, a restored VM) is seen at once too: waiting for `currentEnd` alone, every
 * answer carried the second before the step until the clock got back there (an hour for an hour).
 */
export function currentHttpDate(): string {
  const now = Date.now();
  if (now >= currentEnd || now < currentEnd - 1000) {
    currentText = new Date(now).toUTCString();
    currentEnd = now - (now % 1000) + 1000;
  }
  return currentText;
}
