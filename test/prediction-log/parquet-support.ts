/** Reading back what the object-storage sink wrote to s3rver: keys, and every row of a stream's files. */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { parquetMetadataAsync } from "hyparquet";
import { s3ObjectBuffer } from "../../service/src/drift/readers";
import { readParquet } from "../../service/src/drift/readers/parquet";

export async function listKeys(client: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export type Row = Record<string, unknown> & { key: string };

/** Every row of every file under the prefix, with the file's key. */
export async function readRows(client: S3Client, bucket: string, prefix: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const key of await listKeys(client, bucket, prefix)) {
    for await (const group of readParquet(await s3ObjectBuffer(client, bucket, key))) {
      for (let r = 0; r < group.rows; r++) {
        const row: Row = { key };
        for (const name of group.names) row[name] = group.column(name)?.[r];
        rows.push(row);
      }
    }
  }
  return rows;
}

/** Column names and Parquet types of one file. */
export async function schemaOf(client: S3Client, bucket: string, key: string): Promise<Array<{ name: string; type?: string; converted?: string; repetition?: string }>> {
  const metadata = await parquetMetadataAsync(await s3ObjectBuffer(client, bucket, key));
  return metadata.schema.slice(1).map((e) => ({ name: e.name, type: e.type, converted: e.converted_type, repetition: e.repetition_type }));
}
