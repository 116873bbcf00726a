/** A key given more than once in one object: where (`cors.origins`, `x[2].y`), as steps, and how many times. */
export interface DuplicateKey {
  readonly path: string;
  readonly at: readonly (string | number)[];
  readonly times: number;
}

/**
 * One object or array being read: its keys so far with their counts (null for an array), its last
 * key or index, and the level it is in (its path is built only for a duplicate: copied at every
 * level, it cost time in the square of the depth).
 */
interface Level {
  readonly keys: Map<string, number> | null;
  step: string | number;
  readonly parent: Level | undefined;
}

/** The steps from the top to the current key or index of `level`. */
function stepsTo(level: Level): (string | number)[] {
  const at: (string | number)[] = [];
  for (let l: Level | undefined = level; l !== undefined; l = l.parent) at.push(l.step);
  return at.reverse();
}

/**
 * The keys a JSON text gives more than once in one object, each once. JSON.parse keeps the last of
 * them without a word (RFC 8259 §4: names SHOULD be unique), so a config file with two `"cors"`
 * objects served the second alone: an allow-list with credentials followed by `"cors": { "maxAge":
 * 600 }` became `*`. `text` must be valid JSON (parse it first); names compare as decoded (`"a"` and
 * `"\u0061"` are one name). One pass, no recursion: any depth JSON.parse took is fine here.
 */
export function duplicateKeys(text: string): DuplicateKey[] {
  const stack: Level[] = [];
  const found = new Map<string, { at: readonly (string | number)[]; times: number }>();
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (keyNext && top?.keys != null) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const times = (top.keys.get(key) ?? 0) + 1;
        top.keys.set(key, times);
        top.step = key;
        if (times > 1) {
          const at = stepsTo(top);
          found.set(pathOf(at), { at, times });
        }
        keyNext = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({ keys: c === 0x7b ? new Map() : null, step: c === 0x7b ? '' : 0, parent: top });
      keyNext = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */ && top !== undefined) {
      if (top.keys === null) top.step = (top.step as number) + 1;
      keyNext = top.keys !== null;
    }
  }
  return [...found].map(([path, { at, times }]) => ({ path, at, times }));
}

/** The index of the quote that closes the string opened at `start` (escapes skipped). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
  return i;
}

/** `cors.origins`, `list[2].name`; a key that is no identifier in brackets: `cors["a.b"]`. */
function pathOf(at: readonly (string | number)[]): string {
  let out = '';
  for (const step of at) {
    if (typeof step === 'number') out += `[${String(step)}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}
