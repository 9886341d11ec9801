/**
 * Current data from the object-storage prediction log (`PREDICTION_LOG_URL=s3://bucket/prefix`): the same
 * batches as the PostgreSQL reader (one column per feature, then the task's prediction and target columns:
 * DRIFT_COLUMNS, with fallback answers and answers of another task blanked) for one model over a window. Prediction files are chosen by their date/hour
 * partitions (every version of the model), read one row group at a time with only the columns needed, and
 * rows are kept by created_at and variant. Ground truth comes from the feedback stream, received from the
 * window's start on, joined by prediction_id (the earliest label of a prediction wins, as in PostgreSQL);
 * that join is a map of the window's labels in memory.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { DRIFT_COLUMNS, FEEDBACK_COLUMNS as F, PARQUET_LOG, PREDICTION_LOG_COLUMNS as P, type Task } from "../../contract";
import { hivePathValue, parseS3Url, s3ClientFromEnv, type S3Location } from "../../prediction-log/parquet-sink";
import { DriftInputError } from "../errors";
import type { ColumnBatch } from "./batch";
import { s3ObjectBuffer } from "./index";
import { readParquet } from "./parquet";
import { DEFAULT_VARIANTS, LOGGED_COLUMNS } from "./prediction-log";

export interface ParquetLogWindow {
  /** s3://bucket/prefix, as the service's PREDICTION_LOG_URL. */
  readonly url: string;
  readonly model: string;
  /** The model's task: which logged columns are its prediction and target. @default "binary" */
  readonly task?: Task;
  readonly start: Date;
  readonly end: Date;
  /** @default stable and canary */
  readonly variants?: readonly string[];
  readonly features: readonly string[];
  /** @default a client from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS_REGION and the usual credentials */
  readonly client?: S3Client;
}

const HOUR_MS = 3_600_000;

export async function* readParquetPredictionLog(window: ParquetLogWindow): AsyncGenerator<ColumnBatch> {
  const location = parseLocation(window.url);
  const s3 = window.client ?? s3ClientFromEnv(process.env);
  const variants = new Set(window.variants ?? DEFAULT_VARIANTS);
  const task = window.task ?? "binary";
  const output = DRIFT_COLUMNS[task];
  const logged = LOGGED_COLUMNS[task];
  const names = [...window.features, output.prediction.name, ...(output.target ? [output.target.name] : [])];
  try {
    const labels = await readLabels(s3, location, window.model, window.start);
    const files = await listFiles(s3, location, PARQUET_LOG.streams.predictions, window.model, (hour) => hour + HOUR_MS > window.start.getTime() && hour < window.end.getTime());
    const wanted = [P.predictionId, P.createdAt, P.variant, P.task, P.features, logged.prediction, P.fallback];
    const from = window.start.getTime();
    const to = window.end.getTime();
    for (const key of files) {
      for await (const group of readParquet(await s3ObjectBuffer(s3, location.bucket, key), wanted)) {
        const ids = group.column(P.predictionId)!;
        const times = group.column(P.createdAt)!;
        const variantsOf = group.column(P.variant)!;
        const features = group.column(P.features)!;
        const tasks = group.column(P.task)!;
        const answers = group.column(logged.prediction)!;
        const fallbacks = group.column(P.fallback)!;
        const columns = names.map(() => [] as unknown[]);
        let rows = 0;
        let malformed = 0;
        for (let r = 0; r < group.rows; r++) {
          const time = (times[r] as Date).getTime();
          if (time < from || time >= to || !variants.has(variantsOf[r] as string)) continue;
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(features[r] as string) as Record<string, unknown>;
          } catch {
            malformed++;
            continue;
          }
          window.features.forEach((name, c) => columns[c]!.push(record[name] ?? null));
          // A fallback answer is not the model's output, nor is one from a version of another task: keep the row's
          // features, drop its answer.
          columns[window.features.length]!.push(fallbacks[r] || (tasks[r] ?? "binary") !== task ? null : answers[r]);
          if (logged.target) columns[window.features.length + 1]!.push(labels.get(ids[r] as string)?.[logged.target] ?? null);
          rows++;
        }
        if (rows === 0 && malformed === 0) continue;
        const index = new Map(names.map((name, c) => [name, columns[c]!]));
        yield { rows, malformed, names, column: (name) => index.get(name) };
      }
    }
  } catch (error) {
    if (error instanceof DriftInputError) throw error;
    throw new DriftInputError(`reading the prediction log at ${window.url} failed: ${(error as Error).message}`, { cause: error });
  }
}

function parseLocation(url: string): S3Location {
  try {
    return parseS3Url(url);
  } catch (error) {
    throw new DriftInputError((error as Error).message);
  }
}

/** Ground truth received since `since`, earliest per prediction. */
type Label = { readonly [column: string]: unknown; readonly at: number };

async function readLabels(s3: S3Client, location: S3Location, model: string, since: Date): Promise<Map<string, Label>> {
  const labels = new Map<string, Label>();
  const files = await listFiles(s3, location, PARQUET_LOG.streams.feedback, model, (hour) => hour + HOUR_MS > since.getTime());
  for (const key of files) {
    for await (const group of readParquet(await s3ObjectBuffer(s3, location.bucket, key), [F.predictionId, F.actual, F.actualValue, F.receivedAt])) {
      const ids = group.column(F.predictionId)!;
      const actual = group.column(F.actual)!;
      const values = group.column(F.actualValue)!;
      const received = group.column(F.receivedAt)!;
      for (let r = 0; r < group.rows; r++) {
        const at = (received[r] as Date).getTime();
        const id = ids[r] as string;
        const seen = labels.get(id);
        if (!seen || at < seen.at) labels.set(id, { [F.actual]: actual[r] ?? null, [F.actualValue]: values[r] ?? null, at });
      }
    }
  }
  return labels;
}

/** Keys of one stream's files for the model (every version) whose date/hour partition `hourWanted` keeps. */
async function listFiles(s3: S3Client, location: S3Location, stream: string, model: string, hourWanted: (hourStartMs: number) => boolean): Promise<string[]> {
  const k = PARQUET_LOG.partitions;
  const prefix = [...(location.prefix ? [location.prefix] : []), stream, `${k.model}=${hivePathValue(model)}`, ""].join("/");
  const partition = new RegExp(`/${k.date}=(\\d{4})-(\\d{2})-(\\d{2})/${k.hour}=(\\d{2})/[^/]+\\${PARQUET_LOG.extension}$`);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const match = object.Key ? partition.exec(object.Key) : null;
      if (!match) continue;
      const hour = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]));
      if (hourWanted(hour)) keys.push(object.Key!);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}
