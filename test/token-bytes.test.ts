// Token pieces that hold part of a UTF-8 character (sentencepiece byte fallback <0xE6>, byte-level
// BPE pieces) used to reach the study as "�": their bytes were lost. Each token row now keeps its own
// bytes, a version-1 study migrates forward (old rows without bytes), and the export carries them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { importLlama2c } from '../src/model/llama2c.ts';
import { SCHEMA_VERSION, migrate } from '../src/store/schema.ts';
import { StudyDb, type TokenRecord } from '../src/store/study-db.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibench } from './cli.ts';
import { identity, metadata, queryStudyFile, sample, tempDir } from './store-fixtures.ts';
import { STORIES260K as STORIES, hasStories260K } from './shared-paths.ts';

const PROMPT = 'café — naïve 日本';
const HAS_STORIES = hasStories260K();
const REFERENCE = resolve(import.meta.dirname, '../models/flexidepth-ref');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Token rows as the runner makes them (display pieces and bytes), all prompt. */
function promptRows(tok: TextTokenizer, ids: number[]): TokenRecord[] {
  const pieces = tok.pieces(ids);
  return ids.map((id, position) => ({
    position,
    tokenId: id,
    text: pieces[position]!,
    bytes: tok.tokenBytes(id),
    phase: 'prompt',
    layersUsed: 6,
    mask: [],
    gates: [],
  }));
}

/** A token whose bytes alone are not UTF-8: the case that used to be stored as "�". */
const isPartial = (bytes: Uint8Array): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
};

let stories: TextTokenizer;
let reference: TextTokenizer;
const work = tempDir('flexibench-token-bytes-');

beforeAll(async () => {
  if (HAS_STORIES) {
    const dir = join(work, 'stories260K');
    await importLlama2c(join(STORIES, 'stories260K.bin'), join(STORIES, 'tok512.bin'), dir);
    stories = TextTokenizer.load(dir);
  }
  reference = TextTokenizer.load(REFERENCE);
});

describe('token bytes', () => {
  // Sentencepiece (stories260K) puts a space before the text; byte-level BPE (the reference model) does not.
  const cases = [
    { name: 'stories260K (sentencepiece, byte fallback)', tok: () => stories, asTokenized: ` ${PROMPT}`, present: HAS_STORIES },
    { name: 'reference model (byte-level BPE)', tok: () => reference, asTokenized: PROMPT, present: true },
  ];

  for (const c of cases) {
    it.skipIf(!c.present)(`${c.name}: stored bytes of the prompt tokens are exactly the UTF-8 of the text tokenized`, async () => {
      const tok = c.tok();
      const ids = tok.encode(PROMPT);
      expect(ids[0]).toBe(tok.bosId);
      const partial = ids.filter((id) => isPartial(tok.tokenBytes(id)));
      // The prompt really splits characters over tokens, and each such token alone decodes to "�".
      expect(partial.length).toBeGreaterThanOrEqual(3);
      for (const id of partial) expect(tok.decode([id], false)).toContain('\uFFFD');

      const path = join(tempDir(), 'study.duckdb');
      const db = await StudyDb.open(path);
      const { runId } = await db.ensureRun(identity(), metadata({ routingLayers: [] }));
      await db.writeSample(runId, sample('multibyte', { promptTokens: ids.length, generatedTokens: 0 }), promptRows(tok, ids));
      await db.close();

      const rows = await queryStudyFile<{ token_id: number; text: string; hex: string }>(
        path,
        'SELECT token_id, text, lower(hex(bytes)) AS hex FROM tokens ORDER BY position',
      );
      expect(rows.map((r) => r.token_id)).toEqual(ids);
      const bytes = rows.map((r) => Buffer.from(r.hex, 'hex'));
      // BOS is not part of the prompt's text; its bytes are its name.
      expect(bytes[0]!.toString('utf8')).toBe(tok.decode([tok.bosId!], false));
      expect(Buffer.concat(bytes.slice(1)).equals(utf8(c.asTokenized))).toBe(true);
      // The display pieces: no "�", and they still concatenate to the decoded text.
      expect(rows.some((r) => r.text.includes('\uFFFD'))).toBe(false);
      expect(rows.map((r) => r.text).join('')).toBe(tok.decode(ids, false));
    });
  }

  it("a chat-templated prompt: every token's bytes, special ones included, concatenate to the rendered text", () => {
    const text = reference.renderChat([{ role: 'user', content: PROMPT }]);
    const ids = reference.encode(text, false);
    expect(ids.filter((id) => reference.isSpecial(id)).length).toBeGreaterThanOrEqual(3);
    expect(Buffer.concat(ids.map((id) => reference.tokenBytes(id))).equals(utf8(text))).toBe(true);
  });

  it('a generation cut inside a character: the pieces still concatenate to the decoded text', () => {
    const ids = reference.encode(PROMPT, false);
    const cut = ids.slice(0, ids.findIndex((id) => isPartial(reference.tokenBytes(id))) + 1);
    expect(reference.decode(cut, false).endsWith('\uFFFD')).toBe(true);
    expect(reference.pieces(cut).join('')).toBe(reference.decode(cut, false));
  });

  it('exports the bytes as hex, documented in the schema and the card', async () => {
    const path = join(work, 'export.duckdb');
    const ids = reference.encode(PROMPT);
    const db = await StudyDb.open(path);
    const { runId } = await db.ensureRun(identity(), metadata({ routingLayers: [] }));
    await db.writeSample(runId, sample('multibyte', { promptTokens: ids.length, generatedTokens: 0 }), promptRows(reference, ids));
    await db.close();
    const out = join(work, 'export');
    const r = flexibench(['export-patterns', '--db', path, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rows = await queryStudyFile<{ token_bytes: string }>(
      path,
      `SELECT token_bytes FROM read_parquet('${join(out, 'data', 'tokens.parquet')}') ORDER BY position`,
    );
    expect(rows).toHaveLength(ids.length);
    expect(
      Buffer.from(
        rows
          .slice(1)
          .map((x) => x.token_bytes)
          .join(''),
        'hex',
      ).equals(utf8(PROMPT)),
    ).toBe(true);
    const schema = JSON.parse(readFileSync(join(out, 'schema', 'tokens.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toContain('token_bytes');
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain('## Token text and token bytes');
    expect(card).toMatch(/\| `token_bytes` \| `VARCHAR` \| The token's own bytes as lowercase hex/);
    expect(card).not.toContain('have no `token_bytes`');
  });
});

describe('a version-1 study', () => {
  it('migrates forward when opened for writing: old rows keep NULL bytes, new rows get theirs, the export says which', async () => {
    const path = join(tempDir(), 'v1.duckdb');
    // A file as flexibench with schema version 1 wrote it: the same statements, one run, one sample, two tokens.
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await migrate(conn, 0, 1);
    await conn.run(`INSERT INTO runs VALUES ('run-v1', 'model-1', 'full', 'arith', 'cfg-1', 0, NULL, 0.5, '{}', '{}', 'models/test-6l', 6, [],
                    NULL, NULL, '{}', '{}', 'cpu', '{}', '2025-01-02T03:04:05Z', '2025-01-02T03:05:05Z')`);
    await conn.run(`INSERT INTO samples VALUES ('run-v1', 'old', 0, 'p', 'o', 'r', '{}', 1, 1, 1, 1, 'eos', 'done', NULL, '2025-01-02T03:04:06Z')`);
    await conn.run(`INSERT INTO tokens VALUES ('run-v1', 'old', 0, 5, 'a', 'prompt', 6, [], []), ('run-v1', 'old', 1, 6, '�', 'generated', 6, [], [])`);
    conn.closeSync();
    instance.closeSync();
    expect(await queryStudyFile(path, 'SELECT max(version) AS v FROM schema_version')).toEqual([{ v: 1 }]);
    expect((await queryStudyFile(path, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'tokens'`)).map((c) => c.column_name)).not.toContain(
      'bytes',
    );

    const db = await StudyDb.open(path);
    expect(db.schemaVersion).toBe(SCHEMA_VERSION);
    const ids = reference.encode(PROMPT);
    await db.writeSample('run-v1', sample('new', { docIndex: 1, promptTokens: ids.length, generatedTokens: 0 }), promptRows(reference, ids));
    await db.close();
    const before = sha256(path);

    const old = await queryStudyFile(path, `SELECT position, text, bytes IS NULL AS no_bytes FROM tokens WHERE doc_id = 'old' ORDER BY position`);
    expect(old).toEqual([
      { position: 0, text: 'a', no_bytes: true },
      { position: 1, text: '�', no_bytes: true },
    ]);
    const fresh = await queryStudyFile<{ hex: string }>(path, `SELECT lower(hex(bytes)) AS hex FROM tokens WHERE doc_id = 'new' ORDER BY position`);
    expect(
      Buffer.from(
        fresh
          .slice(1)
          .map((x) => x.hex)
          .join(''),
        'hex',
      ).equals(utf8(PROMPT)),
    ).toBe(true);

    const out = join(tempDir(), 'export');
    const r = flexibench(['export-patterns', '--db', path, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const exported = await queryStudyFile<{ doc_id: string; token_bytes: string | null }>(
      path,
      `SELECT doc_id, token_bytes FROM read_parquet('${join(out, 'data', 'tokens.parquet')}') ORDER BY doc_index, position`,
    );
    expect(exported.filter((x) => x.doc_id === 'old').map((x) => x.token_bytes)).toEqual([null, null]);
    expect(exported.filter((x) => x.doc_id === 'new').every((x) => typeof x.token_bytes === 'string')).toBe(true);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain(`2 of the ${2 + ids.length} token rows have no \`token_bytes\` (null)`);
    // The export only read the study.
    expect(sha256(path)).toBe(before);
  });
});
