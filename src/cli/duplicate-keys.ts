/** One object being read: its keys so far (null for an array), its path, and the key read last. */
interface Level {
  readonly keys: Set<string> | null;
  readonly path: string;
  key: string;
}

/**
 * The keys a JSON text gives twice in one object, as paths (`cors`, `cors.origins`, `cors.x[].y`).
 * JSON.parse keeps the last of them without a word (RFC 8259 §4: names SHOULD be unique), so a
 * config file with two `"cors"` objects served the second alone: an allow-list with credentials
 * followed by `"cors": { "maxAge": 600 }` became `*`. `text` must be valid JSON (parse it first);
 * names compare as decoded (`"a"` and `"\u0061"` are one name).
 */
export function duplicateKeys(text: string): string[] {
  const found: string[] = [];
  const stack: Level[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      if (keyNext && top?.keys != null) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) found.push(joined(top.path, key));
        top.keys.add(key);
        top.key = key;
        keyNext = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const path = top === undefined ? '' : top.keys === null ? `${top.path}[]` : joined(top.path, top.key);
      stack.push({ keys: c === 0x7b ? new Set() : null, path, key: '' });
      keyNext = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      keyNext = top?.keys != null;
    }
  }
  return found;
}

/** The index of the quote that closes the string opened at `start` (escapes skipped). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
  return i;
}

function joined(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
