/**
 * The pinned charts' own values.yaml and values.schema.json, vendored from their public repositories at the exact
 * tags in constructs/versions.ts (test/fixtures/charts/<chart>/<version>/, provenance in source.json), and the
 * parts of Helm's behaviour the checks need: how user values coalesce onto chart defaults (maps merge, lists and
 * scalars are replaced, null deletes) and which keys a chart version knows.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";

export type Json = Record<string, any>;

export const FIXTURES_DIR = join(__dirname, "..", "..", "fixtures", "charts");

export interface ChartSource {
  readonly chart: string;
  readonly version: string;
  readonly repository: string;
  readonly tag: string;
  readonly commit: string;
  readonly path: string;
  readonly files: readonly string[];
}

export interface ChartFixture {
  readonly source: ChartSource;
  /** values.yaml as Helm reads it. */
  readonly values: Json;
  /** values.schema.json, when the chart ships one (Helm then validates the coalesced values against it). */
  readonly schema?: Json;
  /** Chart.yaml (dependencies name the subcharts and their versions). */
  readonly chartYaml: Json;
}

/** The vendored files of one chart version; throws, saying what to vendor, when they are missing. */
export function chartFixture(chart: string, version: string): ChartFixture {
  const dir = join(FIXTURES_DIR, chart, version);
  if (!existsSync(join(dir, "source.json"))) {
    throw new Error(
      `no vendored values for chart ${chart} ${version}: copy its Chart.yaml, values.yaml (and values.schema.json if it has one) ` +
        `from the chart's repository at the tag of that version into test/fixtures/charts/${chart}/${version}/ with a source.json (see the README there)`,
    );
  }
  const source = JSON.parse(readFileSync(join(dir, "source.json"), "utf8")) as ChartSource;
  const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8") : undefined);
  const schemaText = read("values.schema.json");
  return {
    source,
    values: (parse(read("values.yaml") ?? "") ?? {}) as Json,
    schema: schemaText === undefined ? undefined : (JSON.parse(schemaText) as Json),
    chartYaml: parse(read("Chart.yaml") ?? "") as Json,
  };
}

/**
 * Helm's coalescing of user values onto chart defaults: maps merge key by key, anything else (lists included) is
 * replaced, and a null user value deletes the default.
 */
export function helmMerge(defaults: unknown, override: unknown): unknown {
  if (!isMap(defaults) || !isMap(override)) return override === undefined ? defaults : override;
  const out: Json = { ...defaults };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else out[key] = helmMerge(defaults[key], value);
  }
  return out;
}

/**
 * The keys a chart reads, as users set them. Istio's charts keep their defaults under `_internal_defaults_do_not_set`
 * and merge user values over them at render time (templates/zzz_profile.yaml), so user keys are top-level.
 */
export function userFacingDefaults(values: Json): Json {
  const { _internal_defaults_do_not_set: internal, ...rest } = values;
  return isMap(internal) ? (helmMerge(internal, rest) as Json) : values;
}

export interface KeyCheckOptions {
  /**
   * Paths whose contents the chart passes through to something with its own schema (an Alertmanager config, Istio's
   * MeshConfig), so keys below them are not the chart's to know.
   */
  readonly passThrough?: readonly string[];
  /** The chart's values.schema.json: a map it types as an object without listed properties is free-form. */
  readonly schema?: Json;
}

/**
 * Every key in `values` the chart does not know. A key is known when the chart's default at its path has it or its
 * schema lists it; below a free-form map (an empty or absent default such as `resources: {}`, an object the schema
 * leaves open such as `labels`) or a pass-through path, anything goes.
 */
export function unknownKeys(defaults: unknown, values: unknown, options: KeyCheckOptions = {}): string[] {
  return walkKeys(defaults, values, options, "", options.schema ? resolveRef(options.schema, options.schema) : undefined);
}

function walkKeys(defaults: unknown, values: unknown, options: KeyCheckOptions, path: string, schema: Json | undefined): string[] {
  if (!isMap(values) || options.passThrough?.includes(path)) return [];
  const listed = isMap(schema?.properties) ? (schema!.properties as Json) : undefined;
  if (schema && !listed && schema.additionalProperties !== false) return [];
  const emptyDefault = defaults === undefined || defaults === null || (isMap(defaults) && Object.keys(defaults).length === 0);
  if (!listed && emptyDefault) return [];
  if (!listed && !isMap(defaults)) return [`${path} is ${describe(defaults)} in the chart, but an object is set`];
  return Object.entries(values).flatMap(([key, value]) => {
    const here = path ? `${path}.${key}` : key;
    const inDefaults = isMap(defaults) && key in defaults;
    if (!inDefaults && !(listed && key in listed)) return [`${here} is not a value of this chart version`];
    const child = listed?.[key] ? resolveRef(options.schema!, listed[key]) : undefined;
    return walkKeys(inDefaults ? (defaults as Json)[key] : undefined, value, options, here, child);
  });
}

/** Follows a local `$ref` ("#/$defs/values") to the schema node it names. */
function resolveRef(root: Json, node: Json): Json {
  let current = node;
  for (let hops = 0; typeof current.$ref === "string" && current.$ref.startsWith("#/") && hops < 10; hops++) {
    current = current.$ref.slice(2).split("/").reduce((at: Json, segment: string) => at?.[segment], root) ?? {};
  }
  return current;
}

/** Errors of the coalesced values against the chart's values.schema.json (none when it ships no schema). */
export function schemaErrors(schema: Json | undefined, coalesced: unknown): string[] {
  if (!schema) return [];
  // Chart schemas declare "http://json-schema.org/schema#" (no draft): validate them as draft-07, as Helm does.
  const { $schema: _ignored, ...body } = schema;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const validate = ajv.compile(body);
  if (validate(coalesced)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
}

function isMap(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value} (${JSON.stringify(value)})`;
}
