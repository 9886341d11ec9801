/**
 * GET /model: what is being served and where it came from — registry version, alias, run id, lineage tags
 * (git commit, dataset), evaluation metrics — its contract: task (and where it was read from), class labels,
 * decision threshold, named-column inputs with their JSON Schema, the graph's tensors and the execution provider
 * that runs them — and where reloading
 * stands (the version the alias names now, a pending or failing reload).
 */
import type { FastifyPluginAsync } from "fastify";
import { ROUTES, type Variant } from "../contract";
import { errorBody } from "../errors";
import type { ModelManager } from "../model/model-manager";
import { reloadBody } from "./reload-status";

/** Registry tags read as lineage, in MLflow's own spelling first. */
const LINEAGE_TAGS = {
  git_commit: ["mlflow.source.git.commit", "git_commit", "git.commit"],
  dataset: ["dataset", "mlflow.datasets", "dataset_name", "training_dataset"],
  source: ["mlflow.source.name", "source"],
} as const;

export const modelInfoRoutes: FastifyPluginAsync<{ models: ModelManager; variant: Variant }> = async (app, { models, variant }) => {
  app.get(ROUTES.model, async (_request, reply) => {
    const model = models.current;
    if (!model) {
      const state = models.state();
      return reply.status(503).send({ ...errorBody(503, `no model loaded yet: ${"reason" in state ? state.reason : "loading"}`), ...reloadBody(models) });
    }
    const id = model.identity;
    const lineage = Object.fromEntries(
      Object.entries(LINEAGE_TAGS).map(([key, names]) => [key, names.map((n) => id.tags[n]).find((v) => v !== undefined) ?? null]),
    );
    return {
      name: id.name,
      version: id.version,
      alias: id.alias ?? null,
      stage: id.stage ?? null,
      run_id: id.runId ?? null,
      uri: id.uri,
      variant,
      task: model.task.task,
      task_source: model.contract.taskSource,
      // Which routes answer: /predict and /predict/batch need a column contract; V2 answers every version.
      tabular: model.task.tabular,
      threshold: model.task.threshold ?? null,
      classes: model.task.classes ?? null,
      batch_axis: model.batchAxis,
      // Where the graph runs, as checked at load (EXECUTION_PROVIDER; a GPU provider that ran nothing is refused).
      execution_provider: {
        requested: model.executionProvider.requested,
        used: model.executionProvider.used,
        device_id: model.executionProvider.deviceId ?? null,
        nodes: model.executionProvider.nodes ?? null,
      },
      loaded_at: model.loadedAt.toISOString(),
      ...reloadBody(models),
      lineage,
      tags: id.tags,
      metrics: id.metrics,
      inputs: model.package.inputs.map((c) => ({ ...c, constraints: model.package.featureSpec[c.name] ?? null })),
      graph_inputs: model.io.inputs,
      outputs: model.io.outputs,
      request_schema: model.task.tabular ? model.validator.schema : null,
    };
  });
};
