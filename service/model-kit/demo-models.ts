/**
 * The demo models `npm run model:build` trains on the real flights data, one per tabular task, each written
 * as a committed MLflow model directory under service/models/. All three share the signature, the feature
 * pipeline and the data splits (training January-April 2001, held out: June 2001).
 */
import { EMBEDDED_MODEL_DIR, EMBEDDED_MODEL_NAME, type TabularTask } from "../src/contract";
import { buildFlightDelayModel, type ModelBuild } from "./build-flight-delay";
import { buildFlightDelayClassesModel } from "./flight-delay-classes";
import { buildFlightDelayMinutesModel, VALUE_OUTPUT } from "./flight-delay-minutes";
import { PROBABILITIES_OUTPUT } from "./flight-delay-model";
import type { TrainingConfig } from "./train";

export interface DemoModel {
  /** Directory relative to the repository root. */
  readonly dir: string;
  readonly task: TabularTask;
  readonly build: (outDir: string, config?: TrainingConfig) => Promise<ModelBuild>;
  /** The output the build's latency probe fetches. */
  readonly mainOutput: string;
}

export const DEMO_MODELS = {
  /** P(arrival delay > 15 min): the embedded model the service serves by default. */
  [EMBEDDED_MODEL_NAME]: { dir: EMBEDDED_MODEL_DIR, task: "binary", build: buildFlightDelayModel, mainOutput: PROBABILITIES_OUTPUT },
  /** Arrival delay in minutes. */
  "flight-delay-minutes": { dir: "service/models/flight-delay-minutes", task: "regression", build: buildFlightDelayMinutesModel, mainOutput: VALUE_OUTPUT },
  /** on_time / delayed_15_60 / delayed_over_60. */
  "flight-delay-classes": { dir: "service/models/flight-delay-classes", task: "multiclass", build: buildFlightDelayClassesModel, mainOutput: PROBABILITIES_OUTPUT },
} as const satisfies Readonly<Record<string, DemoModel>>;

export type DemoModelName = keyof typeof DEMO_MODELS;
export const DEMO_MODEL_NAMES = Object.keys(DEMO_MODELS) as DemoModelName[];

export function isDemoModelName(name: string): name is DemoModelName {
  return Object.hasOwn(DEMO_MODELS, name);
}
