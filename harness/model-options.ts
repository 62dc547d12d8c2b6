/** Options every model-running command shares: --model, --variant, --ep, --threads, and the reference model. */
import { packagePath } from '../src/package-root.ts';
import { loadCheckpoint, type Checkpoint } from '../src/model/checkpoint.ts';
import { MODEL_VARIANTS } from '../src/model/graph-builder.ts';
import { DecoderSession, type ExecutionProvider } from '../src/model/session.ts';
import { integer, oneOf, required, text, type OptionSpec, type OptionValues } from './args.ts';
import { THREADS } from './option-ranges.ts';

/** The committed reference model: what `run`, `items` and `tasks` use without --model. */
export const REFERENCE_MODEL = packagePath('models', 'flexidepth-ref');

/** --model, --ep and --threads, for the commands that open a model session. */
export const MODEL_OPTIONS = {
  model: required(text('DIR', 'checkpoint folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json)')),
  ep: oneOf('ep', 'ONNX Runtime execution provider', ['cpu', 'cuda'] as const, { default: 'cpu' }),
  threads: integer('N', 'intra-op threads of the session', { ...THREADS, defaultText: "ONNX Runtime's choice" }),
};

/** The variants a checkpoint alone defines (the comparators need a study: `run`). */
type ModelVariant = (typeof MODEL_VARIANTS)[number];

export function variantOptionFor(what: string): OptionSpec<ModelVariant, false> {
  return oneOf('variant', what, MODEL_VARIANTS, { defaultText: 'flexidepth when the checkpoint has routing layers, else full' });
}

export interface ModelChoice {
  ckpt: Checkpoint;
  executionProvider: ExecutionProvider;
  intraOpThreads: number | undefined;
}

export function modelChoice(o: OptionValues<typeof MODEL_OPTIONS>): ModelChoice {
  return { ckpt: loadCheckpoint(o.model), executionProvider: o.ep, intraOpThreads: o.threads };
}

export function variantOf(given: ModelVariant | undefined, ckpt: Checkpoint): ModelVariant {
  return given ?? (ckpt.config.routingLayers.length > 0 ? 'flexidepth' : 'full');
}

export function openSession(m: ModelChoice, variant: ModelVariant): Promise<DecoderSession> {
  return DecoderSession.create(m.ckpt, {
    variant,
    executionProvider: m.executionProvider,
    ...(m.intraOpThreads !== undefined ? { intraOpThreads: m.intraOpThreads } : {}),
  });
}
