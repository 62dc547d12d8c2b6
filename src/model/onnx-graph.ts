/**
 * A small writer for ONNX graphs on top of onnx-proto. Node names are paths
 * (`/model/layers.3/attn/q_proj/MatMul`), as in onnxruntime-genai's model builder, so profiles and
 * dumps read by layer and block. Outputs are `{node}` (the first) and `{node}:{k}`: shorter than the
 * model builder's `{node}/output_{k}`, which matters once `If` branches repeat blocks.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
type Attr = number | number[] | string | Float32Array | { graph: onnxProto.onnx.IGraphProto };
export type Attrs = Record<string, Attr | { float: number } | { ints: number[] }>;

export type ElemType = 'float' | 'float16' | 'int64' | 'bool';
/** ONNX's element type codes, as Cast's `to` takes them. */
export const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size or a symbolic name. */
export type Dim = number | string;

/**
 * Initializer data as stored: float32, int64, uint8 (packed quantized weights, quantization zero
 * points), or float16 as its bit patterns (float16.ts): no other initializer is 16-bit, so a
 * Uint16Array always means float16.
 */
export type InitializerValues = Float32Array | BigInt64Array | Uint8Array | Uint16Array;

/** An initializer's data computed when the model is encoded, so that only one weight is in memory at a time. */
export type DeferredValues = () => InitializerValues;

export interface InitializerData {
  name: string;
  dims: number[];
  data: InitializerValues | DeferredValues;
  /** Bytes per element of deferred data, known before it is produced. */
  elementBytes: number;
}

const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** The initializer's data, producing it now when deferred; its length must match the dims. */
function materialize(t: InitializerData): InitializerValues {
  if (typeof t.data !== 'function') return t.data;
  const data = t.data();
  if (data.length !== elementCount(t.dims))
    throw new Error(`graph builder: initializer ${t.name} produced ${data.length} values for dims [${t.dims.join(', ')}]`);
  return data;
}

export class OnnxGraph {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: InitializerData[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly nodeNames = new Set<string>();
  private readonly initializerNames = new Set<string>();
  /** Where `node` adds nodes: the main graph, or the subgraph being built. */
  private target = this.nodes;

  hasInitializer(name: string): boolean {
    return this.initializerNames.has(name);
  }

  /**
   * Adds one node named `${path}/${opType}` and returns its output names (`{node}`, then `{node}:{k}`,
   * or `outputNames` when the node writes graph outputs directly).
   */
  node(path: string, opType: string, inputs: string[], attrs: Attrs = {}, numOutputs = 1, domain = '', outputNames?: string[]): string[] {
    const name = `${path}/${opType}`;
    if (this.nodeNames.has(name)) throw new Error(`graph builder: duplicate node name ${name}`);
    this.nodeNames.add(name);
    const output = outputNames ?? Array.from({ length: numOutputs }, (_, k) => (k === 0 ? name : `${name}:${k}`));
    const attribute = Object.entries(attrs).map(([key, v]) => makeAttribute(key, v));
    this.target.push(onnx.NodeProto.create({ name, opType, input: inputs, output, attribute, domain }));
    return output;
  }

  /** Single-output node. */
  op(path: string, opType: string, inputs: string[], attrs: Attrs = {}, domain = ''): string {
    return this.node(path, opType, inputs, attrs, 1, domain)[0]!;
  }

  /**
   * A subgraph (an `If` branch) as a GraphProto attribute: the nodes `body` adds go into it, and it
   * reads outer values, initializers included, by name. `body` returns the outputs, all of `type`,
   * which must be computed inside it.
   */
  subgraph(name: string, type: ElemType, body: () => string[]): { graph: onnxProto.onnx.IGraphProto } {
    const target = this.target;
    this.target = [];
    try {
      const output = body().map((o) => onnx.ValueInfoProto.create({ name: o, type: { tensorType: { elemType: ELEM[type] } } }));
      return { graph: onnx.GraphProto.create({ name, node: this.target, output }) };
    } finally {
      this.target = target;
    }
  }

  /** An initializer; pass a function for a weight, so encode reads it when it writes it. */
  initializer(name: string, dims: number[], data: InitializerValues | DeferredValues, elementBytes = 4): string {
    if (this.initializerNames.has(name)) throw new Error(`graph builder: duplicate initializer ${name}`);
    this.initializerNames.add(name);
    this.initializers.push({ name, dims, data, elementBytes });
    return name;
  }

  /** A shared int64 constant initializer (deduplicated by value). */
  int64s(values: number[], scalar = false): string {
    const key = `i64:${scalar ? 's' : 'v'}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `/const/${scalar ? 'scalar' : 'ints'}_${values.join('_').replaceAll('-', 'm')}`;
      this.initializer(name, scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A shared float32 scalar constant initializer. */
  float(value: number): string {
    const key = `f32:${value}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = `/const/float_${String(value).replaceAll('-', 'm').replaceAll('.', 'p')}`;
      this.initializer(name, [], Float32Array.of(value));
      this.constants.set(key, name);
    }
    return name;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Declares `name` a graph output. The node that computes it must write `name` itself (see
   * `node`'s outputNames): an Identity in between would copy the tensor on every run, and for the
   * KV cache that copy is the size of the whole cache.
   */
  output(name: string, type: ElemType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  initializerBytes(): number {
    return this.initializers.reduce((sum, t) => sum + (typeof t.data === 'function' ? t.elementBytes * elementCount(t.dims) : t.data.byteLength), 0);
  }

  /**
   * Encodes the model. With `external`, initializers larger than 1 KiB are written to a side file
   * (ONNX external data, needed past the protobuf 2 GB limit) and the returned bytes reference it;
   * deferred data is then produced, written and dropped one initializer at a time.
   */
  encode(opts: { external?: { location: string; write: (chunk: Uint8Array) => void } } = {}): Uint8Array {
    let offset = 0;
    const initializer = this.initializers.map((t) => {
      const data = materialize(t);
      const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const dataType =
        data instanceof Float32Array
          ? onnx.TensorProto.DataType.FLOAT
          : data instanceof Uint8Array
            ? onnx.TensorProto.DataType.UINT8
            : data instanceof Uint16Array
              ? onnx.TensorProto.DataType.FLOAT16
              : onnx.TensorProto.DataType.INT64;
      if (opts.external && raw.byteLength > 1024) {
        opts.external.write(raw);
        const entry = [
          { key: 'location', value: opts.external.location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ];
        offset += raw.byteLength;
        return onnx.TensorProto.create({
          name: t.name,
          dims: t.dims,
          dataType,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: entry.map((e) => onnx.StringStringEntryProto.create(e)),
        });
      }
      return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType, rawData: raw });
    });
    const graph = onnx.GraphProto.create({ name: 'flexibench', node: this.nodes, initializer, input: this.inputs, output: this.outputs });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'flexibench',
      graph,
      opsetImport: [
        { domain: '', version: 21 },
        { domain: 'com.microsoft', version: 1 },
      ],
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

function makeAttribute(name: string, v: Attrs[string]): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints };
  return { name, type: T.GRAPH, g: v.graph };
}
