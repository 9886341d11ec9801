// Models exported by torch.onnx.export (test/fixtures/exporters/torch_models.py, Debian's python3-torch 1.13),
// with MLflow tensor-based signatures: onnxruntime must compute what torch computed for the same inputs.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { TASK_TAG } from "../../service/src/contract";
import { createSession } from "../../service/model-kit/onnx-scoring";
import { frameworkOutputs, readMlmodel, TORCH_MLP_DIR, TORCH_TOKEN_EMBEDDING_DIR, type FrameworkOutputs, type MlmodelFile, type V2Tensor } from "../support/fixture-models";

const ORT_TYPE: Record<string, ort.Tensor.Type> = { float32: "float32", int64: "int64" };

function toOrt(tensor: V2Tensor): ort.Tensor {
  return tensor.datatype === "INT64"
    ? new ort.Tensor("int64", BigInt64Array.from(tensor.data, (v) => BigInt(v)), [...tensor.shape])
    : new ort.Tensor("float32", Float32Array.from(tensor.data), [...tensor.shape]);
}

/** float32 results of the same graph on two runtimes: equal to a few ulps of the values involved. */
function expectClose(actual: ort.Tensor, expected: V2Tensor): void {
  expect(actual.dims).toEqual(expected.shape);
  const data = actual.data as Float32Array;
  expected.data.forEach((value, i) => expect(Math.abs(data[i] - value)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(value)));
}

describe.each([
  ["torch-mlp", TORCH_MLP_DIR],
  ["torch-token-embedding", TORCH_TOKEN_EMBEDDING_DIR],
])("%s", (_name, dir) => {
  let mlmodel: MlmodelFile;
  let recorded: FrameworkOutputs;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    mlmodel = await readMlmodel(dir);
    recorded = await frameworkOutputs(dir);
    session = await createSession(join(dir, mlmodel.onnxFile));
  });
  afterAll(() => session?.release());

  it("has a tensor-based signature that the graph follows: names, dtypes, ranks, fixed and dynamic dimensions", () => {
    expect(mlmodel.metadata[TASK_TAG]).toBe("tensor");
    expect(session.inputNames).toEqual(mlmodel.inputs.map((entry) => entry.name));
    expect(session.outputNames).toEqual(mlmodel.outputs.map((entry) => entry.name));
    const pairs = [...session.inputMetadata.map((meta, i) => [meta, mlmodel.inputs[i]] as const), ...session.outputMetadata.map((meta, i) => [meta, mlmodel.outputs[i]] as const)];
    for (const [meta, entry] of pairs) {
      if (!meta.isTensor || entry.kind !== "tensor") throw new Error(`${meta.name}: expected a tensor in graph and signature`);
      expect(meta.type).toBe(ORT_TYPE[entry.dtype]);
      expect(meta.shape).toHaveLength(entry.shape.length);
      // -1 in the signature is a symbolic dimension in the graph; a fixed size is fixed there too, or left symbolic
      // by the exporter's shape inference (torch does that for the pooled embedding's width), never a different size.
      entry.shape.forEach((size, d) => {
        const graphDim = meta.shape[d];
        if (size === -1) expect(typeof graphDim).toBe("string");
        else if (typeof graphDim === "number") expect(graphDim).toBe(size);
      });
      expect(meta.shape[0]).toBe("batch"); // the dynamic_axes name given to torch.onnx.export
    }
  });

  it("stores an ndarray input example (tf-serving format) that the graph answers in the signature's shapes", async () => {
    expect(mlmodel.exampleInfo).toMatchObject({ type: "ndarray", format: "tf-serving" });
    const example = (mlmodel.inputExample as { inputs: Record<string, unknown[]> }).inputs;
    expect(Object.keys(example)).toEqual(mlmodel.inputs.map((entry) => entry.name));
    const feeds = Object.fromEntries(
      mlmodel.inputs.map((entry) => {
        const rows = example[entry.name!] as number[][];
        const flat = rows.flat();
        const dtype = entry.kind === "tensor" ? entry.dtype : "";
        return [entry.name, toOrt({ name: entry.name!, datatype: dtype === "int64" ? "INT64" : "FP32", shape: [rows.length, rows[0].length], data: flat })];
      }),
    );
    const result = await session.run(feeds);
    for (const entry of mlmodel.outputs) {
      if (entry.kind !== "tensor") throw new Error("tensor outputs only");
      const dims = result[entry.name!].dims;
      entry.shape.forEach((size, d) => size !== -1 && expect(dims[d]).toBe(size));
    }
  });

  it("computes what torch computed for the recorded inputs, for this very model file", async () => {
    expect(createHash("sha256").update(await readFile(join(dir, mlmodel.onnxFile))).digest("hex")).toBe(recorded.onnx_sha256);
    expect(recorded.framework).toMatch(/^torch 1\.13/);
    expect(recorded.cases.length).toBeGreaterThanOrEqual(2);
    for (const { inputs, outputs } of recorded.cases) {
      const result = await session.run(Object.fromEntries(inputs.map((tensor) => [tensor.name, toOrt(tensor)])));
      for (const expected of outputs) expectClose(result[expected.name], expected);
    }
  });

  it("answers each row alike whatever batch it arrives in (dynamic batch axis)", async () => {
    const { inputs, outputs } = recorded.cases[0];
    const batch = inputs[0].shape[0];
    expect(batch).toBeGreaterThan(1);
    for (let row = 0; row < batch; row++) {
      const slice = (tensor: V2Tensor): V2Tensor => {
        const width = tensor.data.length / tensor.shape[0];
        return { ...tensor, shape: [1, ...tensor.shape.slice(1)], data: tensor.data.slice(row * width, (row + 1) * width) };
      };
      const result = await session.run(Object.fromEntries(inputs.map((tensor) => [tensor.name, toOrt(slice(tensor))])));
      for (const expected of outputs) expectClose(result[expected.name], slice(expected));
    }
  });
});

describe("torch-token-embedding", () => {
  it("takes any sequence length, and padding beyond the mask changes nothing (dynamic sequence axis)", async () => {
    const recorded = await frameworkOutputs(TORCH_TOKEN_EMBEDDING_DIR);
    const session = await createSession(join(TORCH_TOKEN_EMBEDDING_DIR, "model.onnx"));
    try {
      const lengths = new Set(recorded.cases.map((c) => c.inputs[0].shape[1]));
      expect(lengths.size).toBe(recorded.cases.length);
      const { inputs, outputs } = recorded.cases[0];
      const [batch, sequence] = inputs[0].shape;
      const pad = (tensor: V2Tensor, extra: number): V2Tensor => ({
        ...tensor,
        shape: [batch, sequence + extra],
        data: Array.from({ length: batch }, (_, r) => [...tensor.data.slice(r * sequence, (r + 1) * sequence), ...new Array<number>(extra).fill(0)]).flat(),
      });
      const result = await session.run(Object.fromEntries(inputs.map((tensor) => [tensor.name, toOrt(pad(tensor, 9))])));
      expectClose(result.sentence_embedding, outputs[0]);
      // The vectors are L2-normalised, as sentence-transformers' are.
      const data = result.sentence_embedding.data as Float32Array;
      for (let r = 0; r < batch; r++) expect(Math.hypot(...data.subarray(r * 32, (r + 1) * 32))).toBeCloseTo(1, 5);
    } finally {
      await session.release();
    }
  });
});
