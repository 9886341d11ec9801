import { GlueCatalogDatabase } from "@cdktf/provider-aws/lib/glue-catalog-database";
import { GlueCatalogTable } from "@cdktf/provider-aws/lib/glue-catalog-table";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { PARQUET_LOG } from "../service/src/contract";
import { GLUE_TYPES, PARQUET_STREAMS, type ParquetStream } from "../service/src/prediction-log/parquet-schema";
import type { PolicyStatement } from "./irsa-role";

export interface PredictionLogCatalogProps {
  /** Bucket the object-storage prediction log writes to (`PREDICTION_LOG_URL=s3://<bucket>/<prefix>`). */
  readonly bucket: string;
  /** Key prefix under the bucket, without slashes at either end. @default "" (the bucket root) */
  readonly prefix?: string;
  /** Glue database (lower-case letters, digits, underscores). @default "modelport_prediction_log" */
  readonly databaseName?: string;
  /** Days back from today that Athena projects date partitions for (match the bucket's lifecycle rule). @default 30 */
  readonly retentionDays?: number;
}

/**
 * A Glue catalog over the object-storage prediction log, so Athena (or Trino/Spark on Glue) queries it without
 * crawlers or partition management: one database, a `predictions` and a `feedback` table over the Hive layout
 * `<stream>/model=…/version=…/date=YYYY-MM-DD/hour=HH/`, columns from the sink's own Parquet schema, and
 * partition projection (model and version injected, so a query names them, e.g. `model = 'm' AND version IN
 * ('3', '4')`; date over the retention window; hour 00..23).
 */
export class PredictionLogCatalog extends Construct {
  readonly database: GlueCatalogDatabase;
  readonly predictions: GlueCatalogTable;
  readonly feedback: GlueCatalogTable;
  /** The value for the service's PREDICTION_LOG_URL. */
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: PredictionLogCatalogProps) {
    super(scope, id);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(props.bucket)) {
      throw new Error(`PredictionLogCatalog bucket "${props.bucket}" is not an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)`);
    }
    const prefix = props.prefix ?? "";
    if (/^\/|\/$/.test(prefix) || /[^A-Za-z0-9!_.*'()/-]/.test(prefix)) {
      throw new Error(`PredictionLogCatalog prefix "${prefix}" must have no leading or trailing slash and only S3-safe characters (letters, digits, !_.*'()/-)`);
    }
    const databaseName = props.databaseName ?? "modelport_prediction_log";
    if (!/^[a-z0-9_]{1,255}$/.test(databaseName)) {
      throw new Error(`PredictionLogCatalog databaseName "${databaseName}" must be lower-case letters, digits and underscores (Athena's rule)`);
    }
    const retentionDays = props.retentionDays ?? 30;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new Error(`PredictionLogCatalog retentionDays must be an integer >= 1, got ${retentionDays}`);

    this.bucket = props.bucket;
    this.prefix = prefix;
    this.url = `s3://${props.bucket}${prefix ? `/${prefix}` : ""}`;
    this.database = new GlueCatalogDatabase(this, "Resource", {
      name: databaseName,
      description: "Modelport prediction log (Parquet, one stream of predictions and one of ground truth)",
    });
    const table = (stream: ParquetStream) => this.table(stream, databaseName, retentionDays);
    this.predictions = table("predictions");
    this.feedback = table("feedback");
  }

  /** What the service's role needs to write both streams (IRSA statements of its InferenceService). */
  writerStatements(): PolicyStatement[] {
    return [
      { actions: ["s3:PutObject"], resources: Object.values(PARQUET_LOG.streams).map((s) => `arn:aws:s3:::${this.bucket}/${this.key(s)}/*`) },
      // HeadBucket, the sink's start-up check, is authorised by s3:ListBucket.
      { actions: ["s3:ListBucket"], resources: [`arn:aws:s3:::${this.bucket}`] },
    ];
  }

  /** What a reader (the drift job, an analyst's Athena role) needs on the data and the catalog. */
  readerStatements(region: string, accountId: string): PolicyStatement[] {
    const glue = `arn:aws:glue:${region}:${accountId}`;
    return [
      { actions: ["s3:GetObject"], resources: Object.values(PARQUET_LOG.streams).map((s) => `arn:aws:s3:::${this.bucket}/${this.key(s)}/*`) },
      { actions: ["s3:ListBucket"], resources: [`arn:aws:s3:::${this.bucket}`] },
      {
        actions: ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
        resources: [`${glue}:catalog`, `${glue}:database/${this.database.name}`, `${glue}:table/${this.database.name}/*`],
      },
    ];
  }

  private key(stream: string): string {
    return this.prefix ? `${this.prefix}/${stream}` : stream;
  }

  private table(stream: ParquetStream, databaseName: string, retentionDays: number): GlueCatalogTable {
    const k = PARQUET_LOG.partitions;
    const location = `s3://${this.bucket}/${this.key(PARQUET_LOG.streams[stream])}/`;
    return new GlueCatalogTable(this, stream === "predictions" ? "Predictions" : "Feedback", {
      databaseName,
      name: PARQUET_LOG.streams[stream],
      tableType: "EXTERNAL_TABLE",
      parameters: {
        EXTERNAL: "TRUE",
        classification: "parquet",
        "parquet.compression": "SNAPPY",
        "projection.enabled": "true",
        [`projection.${k.model}.type`]: "injected",
        [`projection.${k.version}.type`]: "injected",
        [`projection.${k.date}.type`]: "date",
        [`projection.${k.date}.format`]: "yyyy-MM-dd",
        [`projection.${k.date}.range`]: `NOW-${retentionDays}DAYS,NOW`,
        [`projection.${k.date}.interval`]: "1",
        [`projection.${k.date}.interval.unit`]: "DAYS",
        [`projection.${k.hour}.type`]: "integer",
        [`projection.${k.hour}.range`]: "0,23",
        [`projection.${k.hour}.digits`]: "2",
        // Athena fills in the ${...} placeholders; rawString keeps Terraform from reading them as interpolations.
        "storage.location.template": Fn.rawString(`${location}${k.model}=\${${k.model}}/${k.version}=\${${k.version}}/${k.date}=\${${k.date}}/${k.hour}=\${${k.hour}}/`),
      },
      partitionKeys: Object.values(k).map((name) => ({ name, type: "string" })),
      storageDescriptor: {
        location,
        inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        serDeInfo: { serializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", parameters: { "serialization.format": "1" } },
        columns: PARQUET_STREAMS[stream].columns.map((c) => ({ name: c.name, type: GLUE_TYPES[c.kind] })),
      },
    });
  }
}
