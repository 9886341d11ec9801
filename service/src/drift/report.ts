/** The report the drift job writes (report.json), and where it goes: local folders and/or object storage. */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DriftAnalysis } from "./analyze";

export const REPORT_SCHEMA = "modelport.drift-report/v1";

export interface DataSource {
  /** A URI, or prediction_log for the log. */
  readonly source: string;
  readonly rows: number;
  /** Rows the reader could not parse and left out. */
  readonly malformedRows: number;
}

export interface DriftReport extends DriftAnalysis {
  readonly schema: typeof REPORT_SCHEMA;
  /** Model name (the Pushgateway grouping label and the storage folder). */
  readonly model: string;
  readonly generatedAt: string;
  /** The prediction-log window, when the current data came from the log. */
  readonly window: { readonly start: string; readonly end: string } | null;
  readonly reference: DataSource;
  readonly current: DataSource;
  /** How each number was obtained, so a reader knows what is exact. */
  readonly method: string;
}

export const REPORT_JSON = "report.json";
export const REPORT_HTML = "report.html";

/** `<prefix>/drift-reports/<model>/<date>/` under an s3:// output, date = the window's end day (UTC). */
export function reportKeyPrefix(prefix: string, report: DriftReport): string {
  const day = (report.window?.end ?? report.generatedAt).slice(0, 10);
  const base = prefix.replace(/^\/+|\/+$/g, "");
  return `${base ? `${base}/` : ""}drift-reports/${encodeURIComponent(report.model)}/${day}/`;
}

export interface WrittenReport {
  readonly json: string;
  readonly html: string;
}

/** Writes report.json and report.html to a local folder (created) or an s3://bucket[/prefix] output. */
export async function writeReport(out: string, report: DriftReport, html: string, s3Client: () => S3Client): Promise<WrittenReport> {
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(out);
  if (!s3) {
    await mkdir(out, { recursive: true });
    await writeFile(join(out, REPORT_JSON), json);
    await writeFile(join(out, REPORT_HTML), html);
    return { json: join(out, REPORT_JSON), html: join(out, REPORT_HTML) };
  }
  const [, bucket, prefix] = s3;
  const keyPrefix = reportKeyPrefix(prefix, report);
  const client = s3Client();
  const put = (name: string, body: string, contentType: string) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: keyPrefix + name, Body: body, ContentType: contentType }));
  await put(REPORT_JSON, json, "application/json");
  await put(REPORT_HTML, html, "text/html; charset=utf-8");
  return { json: `s3://${bucket}/${keyPrefix}${REPORT_JSON}`, html: `s3://${bucket}/${keyPrefix}${REPORT_HTML}` };
}
