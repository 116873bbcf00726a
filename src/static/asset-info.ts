import { contentTypeFor } from '../http/mime.js';
import { msOf, type FileIdentity } from './file-identity.js';

/** What the start-up scan knows about one file. */
export interface AssetInfo {
  /** The decoded URL path it is served at: `/fonts/a b.woff2`. */
  readonly urlPath: string;
  /** Absolute file-system path (symlinks inside the root resolved). */
  readonly filePath: string;
  /** The file version the body and ETag were taken from. */
  readonly identity: FileIdentity;
  readonly size: number;
  /** As a plain (non-bigint) `stat` reports it, so the two compare equal. */
  readonly mtimeMs: number;
  /**
   * Last-Modified in ms, truncated to whole seconds as HTTP dates are, and never later than the time
   * the file was read: RFC 9110 §8.8.2.1 forbids a Last-Modified later than the response's Date.
   */
  readonly lastModified: number;
  readonly lastModifiedText: string;
  /**
   * True while this version cannot be dated yet: the second its date names is not over (HTTP dates
   * have whole seconds: bytes written in the second they are read, npm's stamp dated when read, new
   * bytes read in the second the last ones were dated, a restart within it). Another version may
   * still get that second, in this process or another (`--workers`: each worker reads the tree
   * itself), so it would be a weak validator (RFC 9110 §8.8.2.2; Apache makes such an ETag weak).
   * It is sent without Last-Modified, and its date conditions are ignored (RFC 9110 §13.1.3,
   * §13.1.4): a cache revalidating by date only (curl -z, wget -N) would otherwise be told 304 for
   * other bytes. `lastModified` is the date it will get; the table looks at it again ~2 s later
   * (reading it again only if it was read racily) and dates it then.
   */
  readonly undated: boolean;
  /** Strong, content-derived: the same bytes give the same tag on every replica. */
  readonly etag: string;
  /** When the bytes the ETag was computed from were read (ms since the epoch). */
  readonly readAtMs: number;
  readonly contentType: string;
  /** Names the file had when read (hard links): past one, it may change with no event (see AssetTable.revalidate). */
  readonly links: number;
}

/** The tag of one file version, and when the read it was computed from started. */
export interface Read {
  readonly identity: FileIdentity;
  /** The file's link count at the stat `identity` is from. */
  readonly links: bigint;
  readonly etag: string;
  readonly readAtMs: number;
  /**
   * When its identity was last found unchanged since that read, if later (a tag the ETag cache vouches
   * for, a version only waiting to be dated): the bytes are known to be these until then.
   */
  readonly checkedAtMs?: number | undefined;
  /** The Last-Modified an earlier run served this version with (from the ETag cache). */
  readonly lastModified?: number | undefined;
  /** The bytes, when the file was small enough to be read whole on the main thread. */
  readonly bytes?: Buffer | undefined;
}

/**
 * Package managers' fixed mtimes, whatever a file's age: npm's 1985-10-26T08:15:00Z, Yarn Berry's
 * 1984-06-22T21:50:00Z.
 */
const PACKAGE_STAMPS_MS = [499_162_500_000, 456_789_000_000];
/** 1980-01-02T00:00:00Z: before it, ZIP's (DOS) epoch, 1980-01-01, and the Unix epoch's first years. */
const BEFORE_REAL_MTIMES_MS = 315_619_200_000;

/**
 * An mtime that is a constant stamp, not a time of change: a package manager's, ZIP's 1980 epoch,
 * or the Unix epoch (Nix's store sets 1 s, other reproducible builds 0; nothing served today was last
 * changed before 1980). Two versions of a file carry the same one, so as a Last-Modified it would
 * make a date-only cache (curl -z, wget -N, a proxy) keep the old bytes after a new version is
 * installed while the server is stopped (RFC 9110 §13.1.3).
 */
function isConstantStamp(mtimeMs: number): boolean {
  return mtimeMs < BEFORE_REAL_MTIMES_MS || PACKAGE_STAMPS_MS.includes(Math.floor(mtimeMs / 1000) * 1000);
}

/**
 * Whether a date from the ETag cache can be one this server sent: an HTTP date (not past 9999, not
 * before 1980: no version is dated so now, and a forged or negative line printed "Invalid Date"). One
 * ahead of this clock is believed: a run whose clock was ahead served it, or it is the date a version
 * was to get once the clock reached it (AssetInfo.undated), and date-only clients may hold it, so no
 * later version may be dated before it. The version is sent undated until the clock gets there.
 */
function believable(ms: number): boolean {
  return ms >= BEFORE_REAL_MTIMES_MS && ms <= LAST_HTTP_DATE_MS;
}

/** How far the clock file systems stamp mtimes from may lag Date.now (Linux: one tick, 1-10 ms). */
const COARSE_CLOCK_MS = 50;

/** 9999-12-31T23:59:59Z, the last date an HTTP date can name: past it, a date from before is no date (a forged cache line). */
const LAST_HTTP_DATE_MS = 253_402_300_799_000;

/**
 * How long from `now` until `info`, sent undated (AssetInfo.undated), can be dated: 0 when it could be
 * now (the table looks at it again after its usual delay), more when its date is ahead of the clock.
 */
export function untilDatable(info: AssetInfo, now = Date.now()): number {
  return info.undated ? Math.max(0, info.lastModified + 1000 + COARSE_CLOCK_MS - now) : 0;
}

/**
 * The AssetInfo of a version just read (or known from the ETag cache), dated by the rules above;
 * `notBefore`, `floor`: see AssetTable.datedAfter.
 */
export function describe(filePath: string, urlPath: string, read: Read, notBefore?: number, floor?: number): AssetInfo {
  const mtimeMs = msOf(read.identity.mtimeNs);
  // A future mtime (clock skew, a tarball from a machine ahead of us) is clamped to when we read the
  // file: a later change then gets a later date whenever it lands in a later second.
  // A read time from the ETag cache is not believed past now (a clock set back, a forged line).
  const readSecond = Math.floor(Math.min(read.readAtMs, Date.now()) / 1000) * 1000;
  // An mtime every version gets (npm's, Nix's) says nothing of when the bytes changed: dated when read.
  const mtimeSecond = Math.floor(mtimeMs / 1000) * 1000;
  const whenRead = isConstantStamp(mtimeMs) || mtimeSecond > readSecond;
  let lastModified = whenRead ? readSecond : mtimeSecond;
  // This version as an earlier run (or an earlier read) dated it (the ETag cache): the read-time date
  // below would otherwise fall back to the mtime after a restart, older than what date-only caches
  // hold; one dated when read keeps that first date.
  const served = read.lastModified;
  if (served !== undefined && (served > lastModified || whenRead) && believable(served)) lastModified = Math.floor(served / 1000) * 1000;
  if (floor !== undefined && floor > lastModified && believable(floor)) lastModified = Math.floor(floor / 1000) * 1000;
  // New bytes stamped with an older or the same mtime (tar, rsync -a, cp -p of an old build, npm's
  // 1985 stamp, Nix's epoch + 1, a clock set back): a cache revalidating by date only (curl -z,
  // wget -N, some proxies) would be told 304 for them and keep the old bytes. They are dated when
  // read instead, and always after what the URL served before: when that date is this second or ahead
  // of the clock, the second after it, undated until the clock gets there (new bytes read in the second
  // the last were dated; a clock stepped back since the last were dated, by NTP or a restored VM, or
  // between two runs: until it has caught up, a date-only client holding the old bytes would be told
  // 304 for any earlier date).
  if (notBefore !== undefined && lastModified <= notBefore && believable(notBefore)) lastModified = Math.max(Math.floor(notBefore / 1000) * 1000 + 1000, readSecond);
  // See AssetInfo.undated: a date is given once its second is over, by a margin: file systems stamp
  // mtimes from a coarse clock, a tick behind the one Date.now reads (a write just after a second
  // ends is stamped within it).
  const checked = Math.min(read.checkedAtMs ?? read.readAtMs, Date.now());
  const undated = checked - COARSE_CLOCK_MS < lastModified + 1000;
  return {
    urlPath,
    filePath,
    identity: read.identity,
    size: Number(read.identity.size),
    mtimeMs,
    lastModified,
    lastModifiedText: new Date(lastModified).toUTCString(),
    undated,
    etag: read.etag,
    readAtMs: read.readAtMs,
    contentType: contentTypeFor(urlPath),
    links: Number(read.links),
  };
}
