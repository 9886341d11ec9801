/**
 * The inputs of a run and how they split into work units: a file, a local directory or an s3://bucket/prefix/
 * (every CSV, NDJSON or Parquet table under it, in name order). A Parquet file is one unit per row group (its
 * footer read up front, which also checks it is Parquet); a text file, which can only be read from its start,
 * is one unit. Units are dealt to shards round-robin in that fixed order, so every pod of an Indexed Job
 * computes the same plan and takes its own share.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { parquetMetadataAsync, type FileMetaData } from "hyparquet";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { openParquetBuffer, parseTableUri, type TableFormat } from "../drift/readers";
import { rowGroupStarts } from "../drift/readers/parquet";
import { ScoringInputError } from "./errors";

export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

export interface InputTable {
  readonly uri: string;
  readonly format: TableFormat;
  /** Parquet: the file's footer (schema, row groups). */
  readonly metadata?: FileMetaData;
}

export type PlannedUnit =
  | { readonly kind: "rowGroup"; readonly input: string; readonly group: number; readonly rowStart: number; readonly rows: number }
  | { readonly kind: "text"; readonly input: string };

const TABLE_FILE = /\.(csv|ndjson|jsonl|json|parquet|pq)(\.gz)?$/i;

const describe = (error: unknown) => {
  const e = error as Error & { $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return e.$metadata ? `${e.name}${status ? ` (HTTP ${status})` : ""}: ${e.message}` : e.message;
};

/** Every table the arguments name, in a fixed order. */
export async function expandInputs(uris: readonly string[], s3: () => S3Client): Promise<string[]> {
  const out: string[] = [];
  for (const uri of uris) {
    const prefix = /^s3:\/\/([^/]+)\/(.*\/)?$/i.exec(uri);
    if (prefix) {
      out.push(...(await listS3(prefix[1]!, prefix[2] ?? "", s3(), uri)));
      continue;
    }
    if (!/^s3:\/\//i.test(uri)) {
      const info = await stat(uri).catch((error: Error) => {
        throw new ScoringInputError(`cannot read the input ${uri}: ${error.message}`);
      });
      if (info.isDirectory()) {
        const entries = await readdir(uri, { recursive: true, withFileTypes: true });
        const files = entries.filter((e) => e.isFile() && TABLE_FILE.test(e.name)).map((e) => join(e.parentPath, e.name));
        if (files.length === 0) throw new ScoringInputError(`the input directory ${uri} holds no .csv, .ndjson or .parquet files`);
        out.push(...files.sort());
        continue;
      }
    }
    out.push(uri);
  }
  return out;
}

async function listS3(bucket: string, prefix: string, client: S3Client, uri: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key && TABLE_FILE.test(object.Key)) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    throw new ScoringInputError(`cannot list the input ${uri}: ${describe(error)}`);
  }
  if (keys.length === 0) throw new ScoringInputError(`the input ${uri} holds no .csv, .ndjson or .parquet objects`);
  return keys.sort().map((key) => `s3://${bucket}/${key}`);
}

/** Formats (one for all inputs) and, for Parquet, each file's footer. */
export async function describeInputs(uris: readonly string[], s3: () => S3Client): Promise<InputTable[]> {
  const tables: InputTable[] = [];
  for (const uri of uris) {
    let format: TableFormat;
    try {
      format = parseTableUri(uri).format;
    } catch (error) {
      throw new ScoringInputError((error as Error).message);
    }
    if (tables.length > 0 && format !== tables[0]!.format) {
      throw new ScoringInputError(`${uri} is ${format} but ${tables[0]!.uri} is ${tables[0]!.format}: score one format per run`);
    }
    if (format !== "parquet") {
      tables.push({ uri, format });
      continue;
    }
    try {
      const file = await openParquetBuffer(parseTableUri(uri), { s3Client: s3 });
      tables.push({ uri, format, metadata: await parquetMetadataAsync(file) });
    } catch (error) {
      throw new ScoringInputError(`cannot read the input ${uri} as Parquet: ${describe(error)}`);
    }
  }
  return tables;
}

/** This shard's units: all units of all inputs in order, every `count`-th starting at `index`. */
export function shardUnits(tables: readonly InputTable[], shard: ShardSpec): PlannedUnit[] {
  const all: PlannedUnit[] = [];
  for (const table of tables) {
    if (!table.metadata) {
      all.push({ kind: "text", input: table.uri });
      continue;
    }
    const starts = rowGroupStarts(table.metadata);
    table.metadata.row_groups.forEach((group, i) => all.push({ kind: "rowGroup", input: table.uri, group: i, rowStart: starts[i]!, rows: Number(group.num_rows) }));
  }
  return all.filter((_, k) => k % shard.count === shard.index);
}
