/** Options every model-running command shares: --model, --variant, --ep, --threads. */
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, type Checkpoint } from '../src/model/checkpoint.ts';
import { VARIANTS, type Variant } from '../src/model/graph-builder.ts';
import { DecoderSession, type ExecutionProvider } from '../src/model/session.ts';
import { choiceOption, numberOption, requireOption } from './args.ts';

/** The committed reference model: what `run` and `items` use without --model. */
export const REFERENCE_MODEL = fileURLToPath(new URL('../models/flexidepth-ref', import.meta.url));

export const MODEL_OPTIONS = {
  model: { type: 'string' },
  variant: { type: 'string' },
  ep: { type: 'string' },
  threads: { type: 'string' },
} as const;

export interface ModelChoice {
  ckpt: Checkpoint;
  executionProvider: ExecutionProvider;
  intraOpThreads: number | undefined;
}

export function modelChoice(command: string, o: { model?: string; ep?: string; threads?: string }): ModelChoice {
  const ckpt = loadCheckpoint(requireOption(command, o.model, 'model'));
  const executionProvider = choiceOption(command, o.ep, 'ep', ['cpu', 'cuda'] as const, 'cpu');
  const intraOpThreads = o.threads === undefined ? undefined : numberOption(command, o.threads, 'threads', 0, { integer: true, min: 1 });
  return { ckpt, executionProvider, intraOpThreads };
}

export function variantOption(command: string, value: string | undefined, ckpt: Checkpoint): Variant {
  return choiceOption(command, value, 'variant', VARIANTS, ckpt.config.routingLayers.length > 0 ? 'flexidepth' : 'full');
}

export function openSession(m: ModelChoice, variant: Variant): Promise<DecoderSession> {
  return DecoderSession.create(m.ckpt, { variant, executionProvider: m.executionProvider, ...(m.intraOpThreads !== undefined ? { intraOpThreads: m.intraOpThreads } : {}) });
}
