/**
 * The registry writes promotion and rollback make, and nothing else: move or remove an alias, tag a version.
 * Paths and bodies as MLflow documents them (mlflow/server/handlers.py: _set_registered_model_alias,
 * _delete_registered_model_alias, _set_model_version_tag); every answer is an empty object `{}`. Built on
 * MlflowClient, so credentials, deadlines and error messages are the reads' own.
 */
import { MlflowClient } from "./mlflow-client";

export const MLFLOW_WRITE_API = {
  /** POST { name, alias, version } -> {} (SetRegisteredModelAlias; moves the alias if it pointed elsewhere) */
  setAlias: "/api/2.0/mlflow/registered-models/alias",
  /** DELETE { name, alias } -> {} (DeleteRegisteredModelAlias; no error when the alias does not exist) */
  deleteAlias: "/api/2.0/mlflow/registered-models/alias",
  /** POST { name, version, key, value } -> {} (SetModelVersionTag; overwrites the key) */
  setModelVersionTag: "/api/2.0/mlflow/model-versions/set-tag",
} as const;

export type MlflowWriteEndpoint = keyof typeof MLFLOW_WRITE_API;

/** The HTTP method of each write (the alias path is shared with the GET read). */
export const MLFLOW_WRITE_METHODS: Readonly<Record<MlflowWriteEndpoint, "POST" | "DELETE">> = {
  setAlias: "POST",
  deleteAlias: "DELETE",
  setModelVersionTag: "POST",
};

export class MlflowRegistryWriter extends MlflowClient {
  /** Points `alias` of model `name` at `version`. */
  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.json(MLFLOW_WRITE_API.setAlias, {
      what: `move of alias "${alias}" of model "${name}" to version ${version}`,
      notFound: `model "${name}" has no version ${version}`,
      method: MLFLOW_WRITE_METHODS.setAlias,
      body: { name, alias, version },
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.json(MLFLOW_WRITE_API.deleteAlias, {
      what: `removal of alias "${alias}" of model "${name}"`,
      notFound: `model "${name}" is not registered`,
      method: MLFLOW_WRITE_METHODS.deleteAlias,
      body: { name, alias },
    });
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.json(MLFLOW_WRITE_API.setModelVersionTag, {
      what: `tag ${key} of model "${name}" version ${version}`,
      notFound: `model "${name}" has no version ${version}`,
      method: MLFLOW_WRITE_METHODS.setModelVersionTag,
      body: { name, version, key, value },
    });
  }
}
