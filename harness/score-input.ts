/**
 * The input of `flexibench score` as a stream of numbered lines, each bounded in size as it arrives:
 * /dev/zero, an endless line on stdin or a runaway file is refused after one line's limit (plus one
 * read chunk) instead of being read into memory first. A path must be a regular file within the
 * score input's size limit (src/user-file.ts); pipes come through stdin (`--input -`), whose total
 * is held to the same limit as it streams.
 */
import { createReadStream } from 'node:fs';
import { UserError } from '../src/errors.ts';
import { FILE_KINDS, formatLimit, openUserFile } from '../src/user-file.ts';

/** One input line, as raw bytes, with its 1-based number. */
export interface RawLine {
  number: number;
  bytes: Buffer;
}

/** The chunks of `input` ('-' for stdin, else a path), checked as a regular file before any is read. */
export function inputChunks(input: string): AsyncIterable<Buffer> {
  // Without an encoding, both streams yield Buffers.
  if (input === '-') return process.stdin as AsyncIterable<Buffer>;
  const { fd } = openUserFile(input, FILE_KINDS.scoreInput);
  return createReadStream('', { fd }) as AsyncIterable<Buffer>;
}

/** `chunks`, refused with a UserError naming `where` once they pass the score input's size limit. */
export async function* withinInputLimit(chunks: AsyncIterable<Buffer>, where: string): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > FILE_KINDS.scoreInput.maxBytes) {
      throw new UserError(
        `${where}: the ${FILE_KINDS.scoreInput.what} is more than the ${formatLimit(FILE_KINDS.scoreInput.maxBytes)} allowed (score it in parts)`,
      );
    }
    yield chunk;
  }
}

/**
 * The lines of `chunks`, split on the newline byte (which never occurs inside a multi-byte UTF-8
 * character). A line longer than `maxBytes` is yielded cut to `maxBytes + 1` bytes and ends the
 * reading, so the caller sees it is too long without anything more of it being held.
 */
export async function* boundedLines(chunks: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let held = 0;
  let number = 1;
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, newline === -1 ? chunk.length : newline);
      if (held + piece.length > maxBytes) {
        yield { number, bytes: Buffer.concat([...parts, piece]).subarray(0, maxBytes + 1) };
        return;
      }
      parts.push(piece);
      held += piece.length;
      if (newline === -1) break;
      yield { number: number++, bytes: Buffer.concat(parts, held) };
      parts = [];
      held = 0;
      start = newline + 1;
    }
  }
  yield { number, bytes: Buffer.concat(parts, held) };
}
