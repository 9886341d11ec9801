/**
 * The physical limit batch scoring is compared with: a hand-written onnxruntime loop over the same model and the
 * same Parquet file, on the same number of worker threads (one session each, one ORT thread each, the options
 * OnnxScorer uses), with none of the scorer's work: no records, no validation, no task, no ids, no rejects.
 *
 *   node dist/bench/raw-ort.js <model-dir> <file.parquet> <workers> <mode> [<out.parquet>]
 *
 * mode `infer`: every worker decodes its row groups into tensors first, then only session.run() is timed (the
 *   model's own ceiling); `read`: read + tensors + run per row group, timed from process start, as a scoring
 *   program would run; `write`: `read` plus the row group's input columns and the probability encoded to
 *   Parquet in the worker and written in order (the same encoder the scorer uses). Prints one JSON line.
 */
import "../service/src/model/onnxruntime-env";
import * as ort from "onnxruntime-node";
import { asyncBufferFromFile, parquetMetadataAsync, type SchemaElement } from "hyparquet";
import { open } from "node:fs/promises";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { readParquetRowGroup, parquetColumnNames } from "../service/src/drift/readers/parquet";
import { readModelPackage } from "../service/src/model/mlmodel";
import { readModelContract } from "../service/src/model/model-contract";
import { readOnnxGraph } from "../service/src/model/onnx-graph";
import type { ColumnFeed } from "../service/src/model/feeds";
import { encodeRowGroup, ParquetAssembler, type EncodedRowGroup } from "../service/src/scoring/parquet-chunks";

type Mode = "infer" | "read" | "write";

interface Setup {
  readonly onnxPath: string;
  readonly feeds: readonly ColumnFeed[];
  readonly rowOutput: string;
  readonly file: string;
  readonly groups: readonly number[];
  readonly mode: Mode;
  readonly schema?: readonly SchemaElement[];
}

export interface RawOrtResult {
  readonly mode: Mode;
  readonly workers: number;
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly peakRssBytes: number;
}

/** One graph input from the columns as hyparquet decoded them: typed copies only where ORT needs another type. */
function tensorFor(feed: ColumnFeed, column: (name: string) => ArrayLike<unknown> | undefined, rows: number): ort.Tensor {
  if (feed.columns.length !== 1) throw new Error(`raw loop: input ${feed.input} takes ${feed.columns.length} columns; this benchmark feeds one column per input`);
  const values = column(feed.columns[0]!.name)! as ArrayLike<never>;
  const dims = feed.rank === 1 ? [rows] : [rows, 1];
  switch (feed.type) {
    case "string":
      return new ort.Tensor("string", Array.from(values as ArrayLike<string>), dims);
    case "int64":
      return new ort.Tensor("int64", BigInt64Array.from(values as ArrayLike<bigint>, (v) => (typeof v === "bigint" ? v : BigInt(v))), dims);
    case "float32":
      return new ort.Tensor("float32", Float32Array.from(values as ArrayLike<number>, Number), dims);
    case "float64":
      return new ort.Tensor("float64", Float64Array.from(values as ArrayLike<number>, Number), dims);
    default:
      return new ort.Tensor(feed.type as "int32", Int32Array.from(values as ArrayLike<number>, Number), dims);
  }
}

async function worker(setup: Setup): Promise<void> {
  const port = parentPort!;
  const session = await ort.InferenceSession.create(setup.onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
  const file = await asyncBufferFromFile(setup.file);
  const metadata = await parquetMetadataAsync(file);
  const names = parquetColumnNames(metadata);
  const feedsOf = async (group: number) => {
    const batch = await readParquetRowGroup(file, metadata, group);
    const feeds: Record<string, ort.Tensor> = {};
    for (const feed of setup.feeds) feeds[feed.input] = tensorFor(feed, (name) => batch.column(name), batch.rows);
    return { batch, feeds };
  };
  if (setup.mode === "infer") {
    const prepared = [];
    for (const group of setup.groups) prepared.push(await feedsOf(group));
    port.postMessage({ kind: "prepared" });
    await new Promise((go) => port.once("message", go));
    const started = performance.now();
    let rows = 0;
    for (const { batch, feeds } of prepared) {
      await session.run(feeds, [setup.rowOutput]);
      rows += batch.rows;
    }
    port.postMessage({ kind: "done", rows, ms: performance.now() - started });
    return;
  }
  port.postMessage({ kind: "prepared" });
  await new Promise((go) => port.once("message", go));
  let rows = 0;
  for (const group of setup.groups) {
    const { batch, feeds } = await feedsOf(group);
    const out = await session.run(feeds, [setup.rowOutput]);
    rows += batch.rows;
    if (setup.mode !== "write") continue;
    const probabilities = out[setup.rowOutput]!.data as Float32Array;
    const width = probabilities.length / batch.rows;
    const probability = new Float64Array(batch.rows);
    for (let i = 0; i < batch.rows; i++) probability[i] = probabilities[i * width + width - 1]!;
    const encoded = encodeRowGroup(setup.schema!, [...names.map((name) => ({ name, data: batch.column(name) as unknown[] })), { name: "probability", data: probability as unknown as unknown[] }]);
    port.postMessage({ kind: "group", group, encoded }, [encoded.bytes.buffer as ArrayBuffer]);
  }
  port.postMessage({ kind: "done", rows, ms: 0 });
}

async function main(argv: readonly string[]): Promise<RawOrtResult> {
  const started = performance.now();
  const [modelDir, path, workersText, mode, outPath] = argv as [string, string, string, Mode, string | undefined];
  const workers = Number(workersText);
  const pkg = await readModelPackage(modelDir);
  const contract = readModelContract(pkg, await readOnnxGraph(pkg.onnxPath), {});
  const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
  const groups = metadata.row_groups.map((_, i) => i);
  const schema: SchemaElement[] = [...metadata.schema.map((e, i) => (i === 0 ? { ...e, num_children: (e.num_children ?? 0) + 1 } : e)), { name: "probability", type: "DOUBLE", repetition_type: "REQUIRED" }];
  const threads = Array.from({ length: workers }, (_, w) => {
    const setup: Setup = { onnxPath: pkg.onnxPath, feeds: contract.scorer.feeds, rowOutput: contract.scorer.rowOutput!, file: path, groups: groups.filter((g) => g % workers === w), mode, schema };
    return new Worker(__filename, { workerData: setup });
  });
  const encoded = new Map<number, EncodedRowGroup>();
  let writing: Promise<void> = Promise.resolve();
  const out = mode === "write" ? await open(outPath!, "w") : undefined;
  const assembler = out && new ParquetAssembler(async (bytes) => void (await out.write(bytes)), schema);
  let nextGroup = 0;
  const flushInOrder = () => {
    writing = writing.then(async () => {
      while (encoded.has(nextGroup)) {
        await assembler!.append(encoded.get(nextGroup)!);
        encoded.delete(nextGroup++);
      }
    });
  };
  const results = threads.map(
    (thread) =>
      new Promise<{ rows: number; ms: number }>((resolve, reject) => {
        thread.on("error", reject);
        thread.on("message", (m: { kind: string; rows: number; ms: number; group: number; encoded: EncodedRowGroup }) => {
          if (m.kind === "group") {
            encoded.set(m.group, m.encoded);
            flushInOrder();
          } else if (m.kind === "done") resolve(m);
        });
      }),
  );
  await Promise.all(threads.map((t) => new Promise((ready) => t.once("message", ready))));
  for (const t of threads) t.postMessage("go");
  const done = await Promise.all(results);
  await writing;
  if (assembler) {
    await assembler.finish();
    await out!.close();
  }
  await Promise.all(threads.map((t) => t.terminate()));
  const rows = done.reduce((sum, d) => sum + d.rows, 0);
  // infer: the slowest worker's run phase is the wall time of inference; the others: process start to finish.
  const seconds = (mode === "infer" ? Math.max(...done.map((d) => d.ms)) : performance.now() - started) / 1000;
  return { mode, workers, rows, seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(rows / seconds), peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

if (isMainThread) {
  if (require.main === module) {
    main(process.argv.slice(2)).then(
      (result) => process.stdout.write(`RAW_ORT_RESULT ${JSON.stringify(result)}\n`),
      (error: Error) => {
        process.stderr.write(`raw-ort: ${error.stack ?? error.message}\n`);
        process.exitCode = 1;
      },
    );
  }
} else {
  void worker(workerData as Setup);
}
