/**
 * The synthesized stacks as cdktf writes them (cdktf.out/manifest.json and cdktf.out/stacks/<stack>/cdk.tf.json):
 * the single source CI and the cost estimate read, so neither keeps a list of stacks by hand.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ENVIRONMENTS, type EnvironmentName } from "../environments";

export type StackKind = "ci" | "platform" | "model";

export interface SynthStack {
  readonly name: string;
  readonly environment: EnvironmentName;
  readonly kind: StackKind;
  /** The model of a model stack. */
  readonly model?: string;
  /** Terraform working directory, relative to the repository root (cdktf.out/stacks/<stack>). */
  readonly dir: string;
  /** The synthesized configuration (cdk.tf.json). */
  readonly config: TerraformJson;
}

/** cdk.tf.json, as far as CI and cost read it. */
export interface TerraformJson {
  readonly terraform?: { readonly backend?: { readonly s3?: { readonly bucket: string; readonly key: string; readonly region: string } } };
  readonly provider?: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  readonly resource?: Readonly<Record<string, Readonly<Record<string, Record<string, unknown>>>>>;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly output?: Readonly<Record<string, unknown>>;
}

interface Manifest {
  readonly stacks: Readonly<Record<string, { readonly name: string; readonly workingDirectory: string; readonly synthesizedStackPath: string }>>;
}

/** What a stack is, from its name (stacks/index.ts names them): `ci-<env>`, `platform-<env>`, `model-<name>-<env>`. */
export function describeStackName(name: string): Pick<SynthStack, "environment" | "kind" | "model"> {
  const envs = Object.keys(ENVIRONMENTS).join("|");
  const match = new RegExp(`^(?:(ci|platform)|model-([a-z0-9-]+))-(${envs})$`).exec(name);
  if (!match) throw new Error(`stack "${name}" does not follow the naming of stacks/index.ts (ci-<env>, platform-<env>, model-<name>-<env>) with an environment of stacks/environments.ts`);
  const environment = match[3] as EnvironmentName;
  return match[1] ? { environment, kind: match[1] as StackKind } : { environment, kind: "model", model: match[2] };
}

/** Every stack in a cdktf output directory (run `npm run synth` first). */
export function readSynthOutput(outDir = "cdktf.out"): SynthStack[] {
  const manifestPath = join(outDir, "manifest.json");
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} does not exist: run npm run synth first`);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  return Object.values(manifest.stacks)
    .map((entry) => ({
      name: entry.name,
      ...describeStackName(entry.name),
      dir: join(outDir, entry.workingDirectory),
      config: JSON.parse(readFileSync(join(outDir, entry.synthesizedStackPath), "utf8")) as TerraformJson,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
