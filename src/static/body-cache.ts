import { open } from 'node:fs/promises';
import type { AssetInfo } from './asset-info.js';
import { etagOf, newEtagHash } from './etag.js';
import { sameIdentity } from './file-identity.js';
import { READ_BY_PATH } from './read-flags.js';

/**
 * Bodies up to this size are held as latin1 strings instead of Buffers: node:http joins a string
 * body to the header string and writes one chunk, where a Buffer goes out as a chunk of its own
 * (measured: 8% more requests/s for a 1-byte body; for a 30 KB one copying the string costs more).
 * Only one form is held, and a one-byte V8 string costs its length in bytes, as the Buffer would.
 */
export const TEXT_BODY_LIMIT = 4 * 1024;

/** How often a file must be asked for before it may push others out of memory (the first ask only fills free room). */
const ADMIT_HITS = 2;
/** Use counts saturate here, so a file popular long ago cannot stay held forever. */
const MAX_HITS = 15;
/** Every this many disk reads (at least; more in a large tree), every use count is halved. */
const AGING_MIN = 1024;

/** What is known about one file version's body in memory: held or not, and how much it is asked for. */
export class BodySlot {
  /** The whole body (a latin1 string up to TEXT_BODY_LIMIT bytes, else a Buffer), or null: read it from disk. */
  body: string | Buffer | null = null;
  /** Requests lately (a counter aged by halving, and by the eviction sweep). */
  hits = 0;
  /** A read into memory is under way. */
  loading = false;
  /** This version is no longer in the table: never held again. */
  dropped = false;
  /** Index in the cache's resident list, or -1. */
  index = -1;

  constructor(readonly info: AssetInfo) {}
}

export interface BodyCacheOptions {
  /** Bytes of bodies held at most, reads under way included. */
  readonly budget: number;
  /** The largest body held, in bytes. */
  readonly fileLimit: number;
  /** A file's bytes no longer match its table entry: the table should look at it again. */
  readonly stale: (info: AssetInfo) => void;
}

/**
 * File bodies held in memory within a byte budget, chosen by use: a file read from disk is read
 * into memory when there is room, or once it has been asked for ADMIT_HITS times, if it is used
 * more than what it pushes out (a CLOCK sweep over the held bodies that ages them as it passes).
 * A scan of a cold tree therefore never flushes the hot files.
 *
 * Freshness: a slot belongs to one AssetInfo, i.e. one file version; the table's next scan
 * replaces a changed file's AssetInfo, and `drop` (or `retain`) then drops the old slot. A body is held only if
 * the file's identity was the same before and after reading it and its bytes hash to the ETag.
 */
export class BodyCache {
  private readonly slots = new Map<AssetInfo, BodySlot>();
  private resident: BodySlot[] = [];
  private hand = 0;
  /** Bytes held, plus bytes reserved by reads under way. */
  private held = 0;
  private diskReads = 0;

  constructor(private readonly options: BodyCacheOptions) {}

  /** Bytes of bodies held in memory now. */
  get bytes(): number {
    let n = 0;
    for (const slot of this.resident) n += slot.info.size;
    return n;
  }

  /** Files whose body is held in memory now. */
  get files(): number {
    return this.resident.length;
  }

  /** The slot of one file version (the same object every time for the same AssetInfo). */
  slotFor(info: AssetInfo): BodySlot {
    let slot = this.slots.get(info);
    if (slot === undefined) {
      slot = new BodySlot(info);
      this.slots.set(info, slot);
    }
    return slot;
  }

  /** A request served from memory. */
  hit(slot: BodySlot): void {
    if (slot.hits < MAX_HITS) slot.hits++;
  }

  /** A request that had to read from disk: counts it, and reads the body into memory if it earns a place. */
  miss(slot: BodySlot): void {
    if (slot.hits < MAX_HITS) slot.hits++;
    if (++this.diskReads >= Math.max(AGING_MIN, this.slots.size)) this.age();
    const size = slot.info.size;
    if (slot.loading || slot.dropped || size > this.options.fileLimit || size > this.options.budget) return;
    if (this.held + size > this.options.budget && (slot.hits < ADMIT_HITS || !this.makeRoom(size, slot.hits))) return;
    this.held += size;
    slot.loading = true;
    void this.load(slot);
  }

  /**
   * Holds the bytes a scan has just read of `info`'s version, if they fit in the room left (nothing
   * is evicted for them): a small tree is in memory from the start, without a second read.
   */
  offer(info: AssetInfo, bytes: Buffer): void {
    if (info.size > this.options.fileLimit || this.held + info.size > this.options.budget || bytes.length !== info.size) return;
    const slot = this.slotFor(info);
    if (slot.body !== null || slot.loading || slot.dropped) return;
    this.held += info.size;
    this.hold(slot, bytes.length <= TEXT_BODY_LIMIT ? bytes : Buffer.from(bytes));
  }

  /** Forgets every file version `isCurrent` rejects (called after a walk of the tree), freeing its body. */
  retain(isCurrent: (info: AssetInfo) => boolean): void {
    for (const [info, slot] of this.slots) if (!isCurrent(info)) this.forget(slot);
  }

  /** Forgets these file versions, no longer in the table (called after a targeted scan), freeing their bodies. */
  drop(infos: readonly AssetInfo[]): void {
    for (const info of infos) {
      const slot = this.slots.get(info);
      if (slot !== undefined) this.forget(slot);
    }
  }

  private forget(slot: BodySlot): void {
    slot.dropped = true;
    this.slots.delete(slot.info);
    if (slot.index !== -1) this.release(slot);
  }

  /** Halves every use count: what counts is recent use. */
  private age(): void {
    this.diskReads = 0;
    for (const slot of this.slots.values()) slot.hits >>= 1;
  }

  /**
   * Frees at least `size` bytes by evicting held bodies used less than `hits`, sweeping the held
   * list once around from where the last sweep stopped; each body passed over is aged by one.
   * True when there is room now.
   */
  private makeRoom(size: number, hits: number): boolean {
    for (let steps = this.resident.length; steps > 0 && this.held + size > this.options.budget; steps--) {
      if (this.hand >= this.resident.length) this.hand = 0;
      const victim = this.resident[this.hand] as BodySlot;
      if (victim.hits < hits) {
        this.release(victim); // moves the last slot to `hand`: the sweep looks at it next
      } else {
        victim.hits--;
        this.hand++;
      }
    }
    return this.held + size <= this.options.budget;
  }

  /** Gives back a held body's bytes and takes it off the resident list. */
  private release(slot: BodySlot): void {
    this.held -= slot.info.size;
    slot.body = null;
    const last = this.resident.pop() as BodySlot;
    if (last !== slot) {
      this.resident[slot.index] = last;
      last.index = slot.index;
    }
    slot.index = -1;
  }

  private async load(slot: BodySlot): Promise<void> {
    let body: Buffer | null = null;
    try {
      body = await readVersion(slot.info);
    } catch {
      // Gone or unreadable: it stays on the disk path, which answers for it.
    }
    slot.loading = false;
    if (body === null || slot.dropped) {
      this.held -= slot.info.size;
      if (body === null && !slot.dropped) this.options.stale(slot.info);
      return;
    }
    this.hold(slot, body);
  }

  /** Puts a body (bytes already counted in `held`) on the resident list. */
  private hold(slot: BodySlot, body: Buffer): void {
    slot.body = body.length <= TEXT_BODY_LIMIT ? body.toString('latin1') : body;
    slot.index = this.resident.length;
    this.resident.push(slot);
  }
}

/**
 * The bytes of exactly the version `info` describes, or null when the file is no longer that
 * version: same identity before and after the read, and bytes that hash to its ETag (a write in the
 * same timestamp tick keeps the identity; only the hash can tell).
 */
async function readVersion(info: AssetInfo): Promise<Buffer | null> {
  const file = await open(info.filePath, READ_BY_PATH);
  try {
    if (!sameIdentity(info.identity, await file.stat({ bigint: true }))) return null;
    // Its own memory, never a slice of a shared pool that a small body would keep alive.
    const body = Buffer.allocUnsafeSlow(info.size);
    let filled = 0;
    while (filled < body.length) {
      const { bytesRead } = await file.read(body, filled, body.length - filled, filled);
      if (bytesRead === 0) return null;
      filled += bytesRead;
    }
    if (!sameIdentity(info.identity, await file.stat({ bigint: true }))) return null;
    return etagOf(newEtagHash().update(body).digest()) === info.etag ? body : null;
  } finally {
    await file.close();
  }
}
