/**
 * The slice of the MLflow REST API 2.0 that Modelport reads, as documented (mlflow.org/docs/latest/rest-api):
 * paths and wire shapes shared by the client and by the test fake, so the two cannot drift apart silently.
 * Field names are MLflow's (snake_case); int64 fields arrive as JSON numbers, versions as strings.
 */
import type { ModelStage } from "./model-uri";

export const MLFLOW_API = {
  /** GET ?name=&alias= -> { model_version } */
  modelVersionByAlias: "/api/2.0/mlflow/registered-models/alias",
  /** POST { name, stages? } -> { model_versions: [...] } (newest version per stage) */
  latestVersions: "/api/2.0/mlflow/registered-models/get-latest-versions",
  /** GET ?name=&version= -> { model_version } */
  modelVersion: "/api/2.0/mlflow/model-versions/get",
  /** GET ?name=&version= -> { artifact_uri } */
  modelVersionDownloadUri: "/api/2.0/mlflow/model-versions/get-download-uri",
  /** GET ?run_id= -> { run } */
  run: "/api/2.0/mlflow/runs/get",
  /** GET ?path=<dir> lists one level; GET /<path> downloads a file (artifact proxy, `mlflow-artifacts:` URIs). */
  artifacts: "/api/2.0/mlflow-artifacts/artifacts",
} as const;

export const MODEL_VERSION_STATUSES = ["PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY"] as const;
export type ModelVersionStatus = (typeof MODEL_VERSION_STATUSES)[number];

export interface MlflowTag {
  readonly key: string;
  readonly value: string;
}

export interface MlflowModelVersion {
  readonly name: string;
  /** A decimal string: "3". */
  readonly version: string;
  readonly creation_timestamp?: number;
  readonly last_updated_timestamp?: number;
  readonly current_stage?: ModelStage;
  readonly description?: string;
  readonly user_id?: string;
  /** Where the model was registered from (runs:/..., mlflow-artifacts:/..., models:/m-...). */
  readonly source?: string;
  readonly run_id?: string;
  readonly status?: ModelVersionStatus;
  readonly status_message?: string;
  readonly tags?: readonly MlflowTag[];
  readonly aliases?: readonly string[];
}

export interface MlflowMetric {
  readonly key: string;
  /** A number, or "NaN" / "Infinity" strings for non-finite values. */
  readonly value: number | string;
  readonly timestamp?: number;
  readonly step?: number;
}

export interface MlflowRun {
  readonly info: {
    readonly run_id: string;
    readonly run_uuid?: string;
    readonly run_name?: string;
    readonly experiment_id: string;
    readonly user_id?: string;
    readonly status: "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";
    readonly start_time?: number;
    readonly end_time?: number;
    readonly artifact_uri?: string;
    readonly lifecycle_stage?: "active" | "deleted";
  };
  readonly data: {
    readonly metrics?: readonly MlflowMetric[];
    readonly params?: readonly MlflowTag[];
    readonly tags?: readonly MlflowTag[];
  };
}

export interface MlflowFileInfo {
  /** The entry's basename within the listed directory. */
  readonly path: string;
  readonly is_dir: boolean;
  /** Absent for directories. */
  readonly file_size?: number;
}

export interface MlflowErrorBody {
  readonly error_code: string;
  readonly message: string;
}

export interface ModelVersionResponse {
  readonly model_version: MlflowModelVersion;
}
export interface LatestVersionsResponse {
  readonly model_versions?: readonly MlflowModelVersion[];
}
export interface DownloadUriResponse {
  readonly artifact_uri: string;
}
export interface RunResponse {
  readonly run: MlflowRun;
}
export interface ListArtifactsResponse {
  readonly files?: readonly MlflowFileInfo[];
}
