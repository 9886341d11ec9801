/**
 * The Glue catalog over the object-storage prediction log: tables whose columns are the sink's own Parquet
 * schema, partition projection over exactly the Hive layout the sink writes (a key the sink produced must
 * match the template Athena expands), and least-privilege statements for the writer and readers.
 */
import "cdktf/lib/testing/adapters/jest";
import { PredictionLogCatalog } from "../../constructs/prediction-log-catalog";
import { PARQUET_LOG, PREDICTION_LOG_COLUMNS, FEEDBACK_COLUMNS } from "../../service/src/contract";
import { parquetKey, parseS3Url } from "../../service/src/prediction-log/parquet-sink";
import { Json, synth } from "./support/harness";

describe("PredictionLogCatalog", () => {
  let catalog!: PredictionLogCatalog;
  const out = synth((stack) => {
    catalog = new PredictionLogCatalog(stack, "Catalog", { bucket: "acme-predictions", prefix: "prod/log", retentionDays: 45 });
  });
  const tables = out.resources("aws_glue_catalog_table");
  const table = (name: string) => tables.find((t: Json) => t.name === name)!;

  it("declares the tables' columns from the sink's Parquet schema, partitioned as the sink writes", () => {
    expect(out.resources("aws_glue_catalog_database")[0]).toMatchObject({ name: "modelport_prediction_log" });
    const predictions = table("predictions");
    expect(predictions.storage_descriptor.columns.map((c: Json) => c.name)).toEqual(Object.values(PREDICTION_LOG_COLUMNS));
    expect(predictions.storage_descriptor.columns.find((c: Json) => c.name === PREDICTION_LOG_COLUMNS.createdAt).type).toBe("timestamp");
    expect(predictions.storage_descriptor.columns.find((c: Json) => c.name === PREDICTION_LOG_COLUMNS.seq).type).toBe("bigint");
    expect(predictions.partition_keys.map((k: Json) => k.name)).toEqual(Object.values(PARQUET_LOG.partitions));
    expect(predictions.storage_descriptor.location).toBe("s3://acme-predictions/prod/log/predictions/");
    expect(predictions.storage_descriptor.ser_de_info.serialization_library).toBe("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    const feedback = table("feedback");
    expect(feedback.storage_descriptor.columns.map((c: Json) => c.name)).toEqual(expect.arrayContaining(Object.values(FEEDBACK_COLUMNS)));
  });

  it("projects partitions over the retention window, and its location template expands to the keys the sink writes", () => {
    const p = table("predictions").parameters;
    expect(p).toMatchObject({
      "projection.enabled": "true",
      "projection.model.type": "injected",
      "projection.version.type": "injected",
      "projection.date.type": "date",
      "projection.date.format": "yyyy-MM-dd",
      "projection.date.range": "NOW-45DAYS,NOW",
      "projection.hour.type": "integer",
      "projection.hour.range": "0,23",
      "projection.hour.digits": "2",
    });
    // Terraform JSON would read ${model} as an interpolation: it must reach Glue literally ($${model} in the JSON).
    const template: string = p["storage.location.template"];
    expect(template).toBe("s3://acme-predictions/prod/log/predictions/model=$${model}/version=$${version}/date=$${date}/hour=$${hour}/");
    const athena = template.replace(/\$\$\{(\w+)\}/g, (_, name: string) => ({ model: "flight-delay", version: "3", date: "2026-12-01", hour: "07" })[name]!);
    const written = parquetKey(parseS3Url("s3://acme-predictions/prod/log"), "predictions", { model: "flight-delay", version: "3", date: "2026-12-01", hour: "07" }, "pod-1", "42");
    expect(`s3://acme-predictions/${written}`.startsWith(athena)).toBe(true);
  });

  it("gives the service only PutObject on its streams and ListBucket, readers only reads", () => {
    expect(catalog.url).toBe("s3://acme-predictions/prod/log");
    expect(catalog.writerStatements()).toEqual([
      { actions: ["s3:PutObject"], resources: ["arn:aws:s3:::acme-predictions/prod/log/predictions/*", "arn:aws:s3:::acme-predictions/prod/log/feedback/*"] },
      { actions: ["s3:ListBucket"], resources: ["arn:aws:s3:::acme-predictions"] },
    ]);
    const reads = catalog.readerStatements("eu-west-1", "123456789012").flatMap((s) => s.actions);
    expect(reads.every((a) => /^(s3:Get|s3:List|glue:Get)/.test(a))).toBe(true);
  });

  it.each([
    [{ bucket: "Not_A_Bucket" }, /bucket "Not_A_Bucket" is not an S3 bucket name/],
    [{ bucket: "ok-bucket", prefix: "/lead" }, /no leading or trailing slash/],
    [{ bucket: "ok-bucket", databaseName: "Bad-Name" }, /lower-case letters, digits and underscores/],
    [{ bucket: "ok-bucket", retentionDays: 0 }, /retentionDays must be an integer >= 1/],
  ])("rejects bad props %p", (props, message) => {
    expect(() => synth((stack) => new PredictionLogCatalog(stack, "Catalog", props))).toThrow(message);
  });
});
