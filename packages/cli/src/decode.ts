import { gunzipSync } from 'node:zlib';

/**
 * Input bytes -> text, for what users really hand over: UTF-8 (kubectl's output), UTF-16 (what
 * Windows PowerShell's `>` writes), gzip (`kubectl get ... | gzip`, a support bundle) read
 * transparently. Anything else that is not text is refused with what it looks like.
 */
export type Decoded = { readonly text: string; readonly note?: string } | { readonly error: string };

const MAX_GUNZIPPED = 1 << 30;

function looksUtf16(b: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'utf-16le';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'utf-16be';
  // No BOM: ASCII text in UTF-16 has a NUL in every other byte.
  const n = Math.min(b.length & ~1, 512);
  if (n < 4) return undefined;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) even++;
    if (b[i + 1] === 0) odd++;
  }
  if (odd === n / 2 && even === 0) return 'utf-16le';
  if (even === n / 2 && odd === 0) return 'utf-16be';
  return undefined;
}

export function decodeInput(bytes: Uint8Array, depth = 0): Decoded {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    if (depth > 0) return { error: 'gzip data inside gzip data; decompress it yourself first' };
    let inner: Uint8Array;
    try {
      inner = gunzipSync(bytes, { maxOutputLength: MAX_GUNZIPPED });
    } catch (e) {
      return { error: `gzip data that does not decompress (${(e as Error).message}); is the file complete?` };
    }
    const r = decodeInput(inner, depth + 1);
    return 'error' in r ? r : { text: r.text, note: r.note ? `gzip data, decompressed; ${r.note}` : 'gzip data, decompressed' };
  }
  const utf16 = looksUtf16(bytes);
  if (utf16) return { text: new TextDecoder(utf16).decode(bytes), note: `read as ${utf16 === 'utf-16le' ? 'UTF-16LE' : 'UTF-16BE'} text (Windows PowerShell writes that)` };
  if (bytes.includes(0)) return { error: 'binary data, not text (expected the YAML or JSON that kubectl get -o yaml|json prints)' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { error: 'not UTF-8 text (expected the YAML or JSON that kubectl get -o yaml|json prints; convert it with iconv -t UTF-8)' };
  }
}
