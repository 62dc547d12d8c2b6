/** Options every model-running command shares: --model, --variant, --ep, --threads, --precision, --block-size, and the reference model. */
import { packagePath } from '../src/package-root.ts';
import { loadCheckpoint, type Checkpoint } from '../src/model/checkpoint.ts';
import { QUANT_BLOCK_SIZE, QUANT_BLOCK_SIZES, WEIGHT_PRECISIONS, type GraphSpec, type WeightPrecision } from '../src/model/graph-builder.ts';
import { MODEL_VARIANTS, type ModelVariant } from '../src/model/variants.ts';
import { canonicalSpec } from '../src/model/graph-cache.ts';
import { DecoderSession, type ExecutionProvider } from '../src/model/session.ts';
import { integer, oneOf, required, text, type OptionSpec, type OptionValues } from './args.ts';
import { THREADS } from './option-ranges.ts';

/** The committed reference model: what `run`, `items` and `tasks` use without --model. */
export const REFERENCE_MODEL = packagePath('models', 'flexidepth-ref');

/** What --precision says of each choice: shared by every command that builds a graph. */
export const PRECISION_HELP =
  'fp32 (exact); fp16 (weights and activations, with norms, softmax and routers in fp32); int8 or int4 (weight-only, blockwise: the projections and LM head through MatMulNBits, the embedding through GatherBlockQuantized, each router encoder at 8 bits; norms fp32)';

const blockChoice = oneOf('N', 'int8/int4: weights per scale and zero point (MatMulNBits block_size)', QUANT_BLOCK_SIZES.map(String));

/** --block-size: the quantization block of int8 and int4 weights. */
export const BLOCK_SIZE: OptionSpec<number, true> = {
  description: blockChoice.description,
  argument: blockChoice.argument,
  parse: (t) => Number(blockChoice.parse(t, undefined)),
  default: QUANT_BLOCK_SIZE,
};

/** --model, --ep, --threads and the weights' precision, for the commands that open a model session. */
export const MODEL_OPTIONS = {
  model: required(text('DIR', 'checkpoint folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json)')),
  ep: oneOf('ep', 'ONNX Runtime execution provider', ['cpu', 'cuda'] as const, { default: 'cpu' }),
  threads: integer('N', 'intra-op threads of the session', { ...THREADS, defaultText: "ONNX Runtime's choice" }),
  precision: oneOf('precision', `the weights: ${PRECISION_HELP}`, WEIGHT_PRECISIONS, { default: 'fp32' }),
  blockSize: BLOCK_SIZE,
};

/** A graph at a precision, in the form graph cache keys and run ids take it (canonicalSpec). */
export function withPrecision(spec: GraphSpec, precision: WeightPrecision, blockSize: number): GraphSpec {
  return canonicalSpec({ ...spec, precision, blockSize });
}

export function variantOptionFor(what: string): OptionSpec<ModelVariant, false> {
  return oneOf('variant', what, MODEL_VARIANTS, { defaultText: 'flexidepth when the checkpoint has routing layers, else full' });
}

export interface ModelChoice {
  ckpt: Checkpoint;
  executionProvider: ExecutionProvider;
  intraOpThreads: number | undefined;
  precision: WeightPrecision;
  blockSize: number;
}

export function modelChoice(o: OptionValues<typeof MODEL_OPTIONS>): ModelChoice {
  return { ckpt: loadCheckpoint(o.model), executionProvider: o.ep, intraOpThreads: o.threads, precision: o.precision, blockSize: o.blockSize };
}

export function variantOf(given: ModelVariant | undefined, ckpt: Checkpoint): ModelVariant {
  return given ?? (ckpt.config.routingLayers.length > 0 ? 'flexidepth' : 'full');
}

export function openSession(m: ModelChoice, variant: ModelVariant): Promise<DecoderSession> {
  return DecoderSession.create(m.ckpt, {
    ...withPrecision({ variant }, m.precision, m.blockSize),
    executionProvider: m.executionProvider,
    ...(m.intraOpThreads !== undefined ? { intraOpThreads: m.intraOpThreads } : {}),
  });
}
