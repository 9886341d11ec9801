/**
 * Validates custom resources against the CustomResourceDefinitions of the charts the platform pins (vendored
 * under test/fixtures/crds/<chart>/<version>/, the versions read from constructs/versions.ts, so a chart bump
 * fails here until its CRDs are refreshed). The CRD version named by the object's apiVersion supplies an
 * OpenAPI v3 structural schema, translated to JSON Schema for ajv:
 * - an object node with `properties` rejects fields it does not list (the API server would silently prune
 *   them, losing the setting; Helm's and kubectl's OpenAPI validation refuse them), unless it carries
 *   `x-kubernetes-preserve-unknown-fields`; `additionalProperties` (maps) stays as the CRD has it;
 * - `nullable: true` admits null; elsewhere null is refused (the API server prunes it: our constructs never mean it);
 * - `x-kubernetes-int-or-string` admits an integer or a string; `x-kubernetes-embedded-resource` admits
 *   apiVersion, kind and metadata; `metadata` is checked as ObjectMeta;
 * - patterns are Go (RE2) regular expressions: a leading `(?i)` becomes JavaScript's `i` flag;
 * - formats: int32 (range), int64, double, float, byte (base64), date-time (RFC 3339); any other fails loudly;
 * - `x-kubernetes-validations` (CEL rules), list-type/map-type markers and defaults are not evaluated.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { CHARTS } from "../../../constructs/versions";

type Schema = Record<string, any>;
type Json = Record<string, any>;

/** The charts whose CRDs the stacks create objects of (directory under test/fixtures/crds = chart name). */
const CRD_CHARTS = [CHARTS.istioBase, CHARTS.kubePrometheusStack, CHARTS.cloudnativePg];
const FIXTURES = join(__dirname, "..", "..", "fixtures", "crds");

const OBJECT_META: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: { type: "string" },
    generateName: { type: "string" },
    namespace: { type: "string" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
    finalizers: { type: "array", items: { type: "string" } },
    ownerReferences: { type: "array", items: { type: "object" } },
    ...Object.fromEntries(
      ["uid", "resourceVersion", "selfLink", "creationTimestamp", "deletionTimestamp"].map((key) => [key, { type: "string" }]),
    ),
    generation: { type: "integer" },
    deletionGracePeriodSeconds: { type: "integer" },
    managedFields: { type: "array", items: { type: "object" } },
  },
};

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const FORMATS = {
  int32: { type: "number" as const, validate: (n: number) => Number.isInteger(n) && n >= INT32.min && n <= INT32.max },
  int64: { type: "number" as const, validate: (n: number) => Number.isInteger(n) },
  double: { type: "number" as const, validate: () => true },
  float: { type: "number" as const, validate: () => true },
  byte: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  "date-time": /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/,
};
/** Value-validation keywords copied as they are (OpenAPI v3.0's boolean exclusiveMinimum/Maximum are converted). */
const COPIED = ["enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "required", "multipleOf", "format"];

/** OpenAPI v3 structural schema -> JSON Schema. `structural` is false inside anyOf/allOf/oneOf/not, which only constrain values. */
function toJsonSchema(node: Schema, structural = true): Schema {
  const out: Schema = {};
  for (const key of COPIED) if (node[key] !== undefined) out[key] = node[key];
  if (node.format !== undefined && !(node.format in FORMATS)) throw new Error(`CRD schema uses format "${node.format}", which crd-validator.ts does not check yet`);
  if (node.exclusiveMinimum === true) out.exclusiveMinimum = out.minimum;
  if (node.exclusiveMaximum === true) out.exclusiveMaximum = out.maximum;
  if (node.exclusiveMinimum === true) delete out.minimum;
  if (node.exclusiveMaximum === true) delete out.maximum;
  if (node.type !== undefined) out.type = node.nullable === true ? [node.type, "null"] : node.type;
  if (node["x-kubernetes-int-or-string"] === true && node.anyOf === undefined) out.type = ["integer", "string"];
  for (const key of ["anyOf", "allOf", "oneOf"]) if (node[key]) out[key] = node[key].map((branch: Schema) => toJsonSchema(branch, false));
  if (node.not) out.not = toJsonSchema(node.not, false);
  if (node.items) out.items = toJsonSchema(node.items, structural);
  const properties: Schema = { ...node.properties };
  if (node["x-kubernetes-embedded-resource"] === true) {
    properties.apiVersion ??= { type: "string" };
    properties.kind ??= { type: "string" };
    properties.metadata = OBJECT_META;
  }
  if (Object.keys(properties).length > 0) {
    out.properties = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, value === OBJECT_META ? value : toJsonSchema(value as Schema, structural)]));
  }
  if (typeof node.additionalProperties === "object") out.additionalProperties = toJsonSchema(node.additionalProperties, structural);
  else if (node.additionalProperties !== undefined) out.additionalProperties = node.additionalProperties;
  else if (structural && out.properties && node["x-kubernetes-preserve-unknown-fields"] !== true) out.additionalProperties = false;
  return out;
}

/** The root schema of one CRD version: apiVersion, kind and metadata are implicit in every custom resource. */
function rootSchema(openAPIV3Schema: Schema): Schema {
  const root = toJsonSchema({
    ...openAPIV3Schema,
    properties: { apiVersion: { type: "string" }, kind: { type: "string" }, ...openAPIV3Schema.properties },
  });
  root.properties.metadata = OBJECT_META;
  return root;
}

interface CrdVersion {
  readonly source: string;
  readonly schema: Schema;
}

function loadCrds(): Map<string, CrdVersion> {
  const byApiVersionAndKind = new Map<string, CrdVersion>();
  for (const { chart, version } of CRD_CHARTS) {
    const dir = join(FIXTURES, chart, version);
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".yaml"))) {
      const crd = parse(readFileSync(join(dir, file), "utf8"));
      for (const v of crd.spec.versions.filter((entry: Json) => entry.served)) {
        byApiVersionAndKind.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, { source: `${chart} ${version} ${file}`, schema: v.schema.openAPIV3Schema });
      }
    }
  }
  return byApiVersionAndKind;
}

let crds: Map<string, CrdVersion> | undefined;
const compiled = new Map<string, ValidateFunction>();
/** Go's RE2 patterns in JavaScript: the only RE2-only syntax in the vendored CRDs is a leading `(?i)`. */
const goRegExp = Object.assign(
  (pattern: string, flags: string) => {
    const caseInsensitive = /^(\^?)\(\?i\)/.exec(pattern);
    return caseInsensitive ? new RegExp(caseInsensitive[1] + pattern.slice(caseInsensitive[0].length), `${flags}i`) : new RegExp(pattern, flags);
  },
  { code: "goRegExp" },
);
// Strict about keywords and formats (an unknown one throws), not about types: CRDs put `required` in oneOf
// branches without a type, and nullable fields become union types.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true, formats: FORMATS, code: { regExp: goRegExp } });

function validatorFor(apiVersion: string, kind: string): ValidateFunction | string {
  crds ??= loadCrds();
  const key = `${apiVersion} ${kind}`;
  const crd = crds.get(key);
  if (!crd) return `no CRD served for apiVersion ${apiVersion} kind ${kind} in the pinned charts (${CRD_CHARTS.map((c) => `${c.chart} ${c.version}`).join(", ")})`;
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rootSchema(crd.schema)));
  return compiled.get(key)!;
}

/** `/spec/http/0/route/0/weight` -> `spec.http[0].route[0].weight`; keys that are not identifiers in brackets. */
export function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? (path ? `${path}.${part}` : part) : `${path}[${JSON.stringify(part)}]`), "");
}

function message(error: ErrorObject): string {
  const path = fieldPath(error.instancePath) || "(object)";
  if (error.keyword === "additionalProperties") {
    const field = fieldPath(`${error.instancePath}/${String(error.params.additionalProperty).replace(/~/g, "~0").replace(/\//g, "~1")}`);
    return `${field} is not a field of the CRD schema`;
  }
  if (error.keyword === "enum") return `${path} must be one of ${JSON.stringify(error.params.allowedValues)}`;
  return `${path} ${error.message}`;
}

/** Problems of one object against its CRD schema (empty when valid). */
export function crdProblems(object: Json): string[] {
  const validate = validatorFor(object.apiVersion, object.kind);
  if (typeof validate === "string") return [validate];
  return validate(object) ? [] : (validate.errors ?? []).map(message);
}
