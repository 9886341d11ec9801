/**
 * What the model contract needs from an ONNX file that onnxruntime does not report: the declared type of every
 * graph input and output (a ZipMap's sequence of maps included), `metadata_props`, and the classifier nodes'
 * class labels (`classlabels_int64s` / `classlabels_strings`, which is where skl2onnx and onnxmltools exports
 * keep them). A small protobuf wire-format reader over onnx.proto's field numbers: weights (initializers) are
 * skipped by length, never decoded, so scanning a large model costs little beyond reading the file, and the
 * service needs no protobuf package at run time.
 */
import { readFile } from "node:fs/promises";
import { ONNX_ELEMENT_TYPES, type TensorType } from "./tensors";

export interface OnnxValueInfo {
  readonly name: string;
  /** tensor, or what else the graph declares (a ZipMap output is a sequence of maps). */
  readonly kind: "tensor" | "sequence" | "map" | "optional" | "sparse_tensor" | "unknown";
  /** Element type of a tensor; undefined when the file uses one Modelport does not serve (bfloat16, complex...). */
  readonly type?: TensorType;
  /** ONNX element type number, for messages about unsupported types. */
  readonly elemType?: number;
  /** Tensor dims: a number, a symbolic name, or -1 when neither is given. Undefined when the rank is unknown. */
  readonly dims?: readonly (number | string)[];
  /** Readable type, e.g. "tensor(float)[N,2]" or "seq(map(int64,tensor(float)))". */
  readonly description: string;
}

export interface OnnxNodeInfo {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** classlabels_int64s / classlabels_ints / classlabels_strings, when the node has them. */
  readonly classLabels?: readonly (number | string)[];
}

export interface OnnxGraphInfo {
  readonly producerName: string;
  /** Graph inputs that are fed at run time (initializers listed as inputs by old IR versions excluded). */
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly nodes: readonly OnnxNodeInfo[];
  readonly metadataProps: Readonly<Record<string, string>>;
}

export class OnnxFormatError extends Error {
  override readonly name = "OnnxFormatError";
}

export async function readOnnxGraph(path: string): Promise<OnnxGraphInfo> {
  const bytes = await readFile(path);
  try {
    return parseOnnxModel(bytes);
  } catch (error) {
    throw new OnnxFormatError(`${path} is not a readable ONNX model: ${(error as Error).message}`);
  }
}

const ELEMENT_NAMES: Record<number, string> = {
  1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
  10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16",
};

/** ModelProto: graph = 7, producer_name = 2, metadata_props = 14. */
export function parseOnnxModel(bytes: Uint8Array): OnnxGraphInfo {
  const model = new Reader(bytes, 0, bytes.length);
  let producerName = "";
  let graph: Omit<OnnxGraphInfo, "producerName" | "metadataProps"> | undefined;
  const metadataProps: Record<string, string> = {};
  model.fields((field, wire, r) => {
    if (field === 2 && wire === 2) producerName = r.string();
    else if (field === 7 && wire === 2) graph = parseGraph(r.sub());
    else if (field === 14 && wire === 2) {
      const entry = r.sub();
      let key = "";
      let value = "";
      entry.fields((f, w, e) => {
        if (f === 1 && w === 2) key = e.string();
        else if (f === 2 && w === 2) value = e.string();
        else e.skip(w);
      });
      metadataProps[key] = value;
    } else r.skip(wire);
  });
  if (!graph) throw new Error("no graph in the model");
  return { producerName, metadataProps, ...graph };
}

/** GraphProto: node = 1, initializer = 5, input = 11, output = 12. */
function parseGraph(r: Reader): Omit<OnnxGraphInfo, "producerName" | "metadataProps"> {
  const nodes: OnnxNodeInfo[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const initializers = new Set<string>();
  r.fields((field, wire, g) => {
    if (wire !== 2) return g.skip(wire);
    if (field === 1) nodes.push(parseNode(g.sub()));
    else if (field === 5) initializers.add(tensorName(g.sub()));
    else if (field === 11) inputs.push(parseValueInfo(g.sub()));
    else if (field === 12) outputs.push(parseValueInfo(g.sub()));
    else g.skip(wire);
  });
  return { nodes, inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}

/** TensorProto.name = 8; the data fields are skipped. */
function tensorName(r: Reader): string {
  let name = "";
  r.fields((field, wire, t) => {
    if (field === 8 && wire === 2) name = t.string();
    else t.skip(wire);
  });
  return name;
}

/** NodeProto: input = 1, output = 2, op_type = 4, attribute = 5, domain = 7. */
function parseNode(r: Reader): OnnxNodeInfo {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let opType = "";
  let domain = "";
  let classLabels: (number | string)[] | undefined;
  r.fields((field, wire, n) => {
    if (wire !== 2) return n.skip(wire);
    if (field === 1) inputs.push(n.string());
    else if (field === 2) outputs.push(n.string());
    else if (field === 4) opType = n.string();
    else if (field === 7) domain = n.string();
    else if (field === 5) {
      const labels = classLabelAttribute(n.sub());
      if (labels) classLabels = labels;
    } else n.skip(wire);
  });
  return { opType, domain, inputs, outputs, classLabels };
}

/** AttributeProto: name = 1, ints = 8 (packed or not), strings = 9. Only classlabels_* are kept. */
function classLabelAttribute(r: Reader): (number | string)[] | undefined {
  let name = "";
  const ints: number[] = [];
  const strings: string[] = [];
  r.fields((field, wire, a) => {
    if (field === 1 && wire === 2) name = a.string();
    else if (field === 8 && wire === 0) ints.push(a.varint64());
    else if (field === 8 && wire === 2) {
      const packed = a.sub();
      while (!packed.done()) ints.push(packed.varint64());
    } else if (field === 9 && wire === 2) strings.push(a.string());
    else a.skip(wire);
  });
  if (name === "classlabels_strings") return strings;
  if (name === "classlabels_int64s" || name === "classlabels_ints") return ints;
  return undefined;
}

/** ValueInfoProto: name = 1, type = 2. */
function parseValueInfo(r: Reader): OnnxValueInfo {
  let name = "";
  let type: Omit<OnnxValueInfo, "name"> = { kind: "unknown", description: "unknown type" };
  r.fields((field, wire, v) => {
    if (field === 1 && wire === 2) name = v.string();
    else if (field === 2 && wire === 2) type = parseType(v.sub());
    else v.skip(wire);
  });
  return { name, ...type };
}

/** TypeProto: tensor_type = 1, sequence_type = 4, map_type = 5, sparse_tensor_type = 8, optional_type = 9. */
function parseType(r: Reader): Omit<OnnxValueInfo, "name"> {
  let result: Omit<OnnxValueInfo, "name"> = { kind: "unknown", description: "unknown type" };
  r.fields((field, wire, t) => {
    if (wire !== 2) return t.skip(wire);
    if (field === 1) result = parseTensorType(t.sub());
    else if (field === 4) result = { kind: "sequence", description: `seq(${innerType(t.sub(), 1)})` };
    else if (field === 5) result = { kind: "map", description: mapDescription(t.sub()) };
    else if (field === 8) result = { kind: "sparse_tensor", description: "sparse_tensor" };
    else if (field === 9) result = { kind: "optional", description: `optional(${innerType(t.sub(), 1)})` };
    else t.skip(wire);
  });
  return result;
}

/** Sequence and Optional hold their element TypeProto at field 1. */
function innerType(r: Reader, field: number): string {
  let description = "unknown";
  r.fields((f, w, t) => {
    if (f === field && w === 2) description = parseType(t.sub()).description;
    else t.skip(w);
  });
  return description;
}

/** Map: key_type = 1 (element type), value_type = 2 (TypeProto). */
function mapDescription(r: Reader): string {
  let key = "unknown";
  let value = "unknown";
  r.fields((f, w, m) => {
    if (f === 1 && w === 0) key = ELEMENT_NAMES[m.varint()] ?? "unknown";
    else if (f === 2 && w === 2) value = parseType(m.sub()).description;
    else m.skip(w);
  });
  return `map(${key},${value})`;
}

/** Tensor: elem_type = 1, shape = 2 (TensorShapeProto: dim = 1; Dimension: dim_value = 1, dim_param = 2). */
function parseTensorType(r: Reader): Omit<OnnxValueInfo, "name"> {
  let elemType = 0;
  let dims: (number | string)[] | undefined;
  r.fields((field, wire, t) => {
    if (field === 1 && wire === 0) elemType = t.varint();
    else if (field === 2 && wire === 2) {
      dims = [];
      t.sub().fields((f, w, s) => {
        if (f !== 1 || w !== 2) return s.skip(w);
        let dim: number | string = -1;
        s.sub().fields((df, dw, d) => {
          if (df === 1 && dw === 0) dim = d.varint();
          else if (df === 2 && dw === 2) dim = d.string() || -1;
          else d.skip(dw);
        });
        dims!.push(dim);
      });
    } else t.skip(wire);
  });
  const shape = dims ? `[${dims.join(",")}]` : "";
  return { kind: "tensor", type: ONNX_ELEMENT_TYPES[elemType], elemType, dims, description: `tensor(${ELEMENT_NAMES[elemType] ?? elemType})${shape}` };
}

const UTF8 = new TextDecoder();

/** Protobuf wire format over a byte range. */
class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    private pos: number,
    private readonly end: number,
  ) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Calls `visit` for every field of this message; the visitor consumes the field's value (or skips it). */
  fields(visit: (field: number, wire: number, reader: Reader) => void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      visit(Math.floor(key / 8), key % 8, this);
    }
    if (this.pos !== this.end) throw new Error("truncated message");
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error("malformed varint");
  }

  /** A varint read as a signed 64-bit integer (negative values take 10 bytes), as a number. */
  varint64(): number {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return Number(BigInt.asIntN(64, result));
      shift += 7n;
    }
    throw new Error("malformed varint");
  }

  /** A length-delimited field as its own reader. */
  sub(): Reader {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new Error("truncated field");
    this.pos += length;
    return new Reader(this.bytes, start, start + length);
  }

  string(): string {
    const r = this.sub();
    return UTF8.decode(this.bytes.subarray(r.pos, r.end));
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.advance(this.varint());
    else if (wire === 5) this.advance(4);
    else throw new Error(`unsupported wire type ${wire}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new Error("truncated field");
    this.pos += n;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new Error("truncated varint");
    return this.bytes[this.pos++]!;
  }
}
