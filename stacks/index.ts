import { App } from "cdktf";
import { CiStack } from "./ci-stack";
import type { EnvironmentConfig } from "./environments";
import { ModelStack } from "./model-stack";
import { PlatformStack } from "./platform-stack";

export * from "./environments";
export * from "./platform-names";
export { ModelStack } from "./model-stack";
export { PlatformStack } from "./platform-stack";
export { CiStack } from "./ci-stack";

/** Stack name of an environment's platform: `platform-<env>`. */
export const platformStackName = (env: string) => `platform-${env}`;
/** Stack name of one model in one environment: `model-<name>-<env>`. */
export const modelStackName = (env: string, model: string) => `model-${model}-${env}`;
/** Stack name of an environment's CI roles: `ci-<env>` (environments with `ci` only). */
export const ciStackName = (env: string) => `ci-${env}`;

/** One platform stack per environment and one stack per model per environment. */
export function buildStacks(app: App, environments: readonly EnvironmentConfig[]): void {
  for (const env of environments) {
    const names = new Set<string>();
    for (const model of env.models) {
      if (names.has(model.name)) throw new Error(`Environment ${env.name}: model "${model.name}" is listed twice`);
      names.add(model.name);
    }
    if (env.ci) new CiStack(app, ciStackName(env.name), env, environments.filter((e) => e !== env).map((e) => e.state.bucket));
    new PlatformStack(app, platformStackName(env.name), env);
    for (const model of env.models) new ModelStack(app, modelStackName(env.name, model.name), env, model);
  }
}
