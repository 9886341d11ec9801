/** The scored file and the rejects file, each assembled from encoded chunks in order and committed whole. */
import type { S3Client } from "@aws-sdk/client-s3";
import type { KeyValue } from "hyparquet";
import { csvHeader } from "./csv-writer";
import { ScoringInputError } from "./errors";
import { ParquetAssembler } from "./parquet-chunks";
import { parquetSchema, type OutputColumn, type OutputFormat } from "./plan";
import type { EncodedChunk } from "./protocol";
import { openSink, type OutputSink } from "./sinks";

/** The output format an output URI names by its extension. */
export function outputFormat(uri: string, flag: string): OutputFormat {
  if (/\.(parquet|pq)$/i.test(uri)) return "parquet";
  if (/\.csv$/i.test(uri)) return "csv";
  throw new ScoringInputError(`${flag} ${uri}: name a .parquet or .csv file`);
}

/** `out.parquet` -> `out.rejects.parquet`. */
export function defaultRejectsUri(output: string): string {
  return output.replace(/(\.[^./]+)$/, ".rejects$1");
}

export class TableOutput {
  private sink?: OutputSink;
  private parquet?: ParquetAssembler;
  private opening?: Promise<void>;
  rows = 0;

  constructor(
    readonly uri: string,
    private readonly format: OutputFormat,
    private readonly columns: readonly OutputColumn[],
    private readonly s3: () => S3Client,
    private readonly keyValues: readonly KeyValue[] = [],
  ) {}

  get opened(): boolean {
    return this.sink !== undefined;
  }

  get bytes(): number {
    return this.sink?.bytesWritten ?? 0;
  }

  async append(chunk: EncodedChunk): Promise<void> {
    await this.open();
    this.rows += chunk.rows;
    if (chunk.format === "parquet") await this.parquet!.append(chunk);
    else await this.sink!.write(chunk.bytes);
  }

  /** Writes the footer (Parquet) and makes the file visible. An output never appended to is written empty. */
  async commit(): Promise<void> {
    await this.open();
    await this.parquet?.finish();
    await this.sink!.commit();
  }

  async abort(): Promise<void> {
    await this.opening?.catch(() => undefined);
    await this.sink?.abort();
  }

  private open(): Promise<void> {
    this.opening ??= (async () => {
      const sink = await openSink(this.uri, this.s3);
      this.sink = sink;
      if (this.format === "parquet") this.parquet = new ParquetAssembler((bytes) => sink.write(bytes), parquetSchema(this.columns), this.keyValues);
      else await sink.write(new TextEncoder().encode(csvHeader(this.columns.map((c) => c.name))));
    })();
    return this.opening;
  }
}
