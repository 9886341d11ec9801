import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Aspects, TerraformStack, Testing } from "cdktf";
import { parseAllDocuments, parse } from "yaml";
import { PlatformPolicies } from "../../../constructs/policies";
import { crdProblems } from "./crd-validator";

export type Json = Record<string, any>;
export interface Synthesized {
  readonly json: Json;
  /** Resources of one Terraform type, keyed by logical id. */
  resources(type: string): Json[];
  /** The single resource of a type whose (metadata.)name matches. */
  named(type: string, name: string): Json;
  /** Every custom resource: kubernetes_manifest manifests and objects in ManifestBundle charts. */
  customResources(): Json[];
  /** Parsed `values` of a helm_release by release name. */
  helmValues(releaseName: string): Json;
}

/** Builds constructs in a stack with every provider configured (offline, no credentials), applies the policies and synthesizes. */
export function synth(build: (stack: TerraformStack) => void, options: { policies?: boolean } = {}): Synthesized {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new KubernetesProvider(stack, "k8s", { configPath: "~/.kube/config" });
  new HelmProvider(stack, "helm", { kubernetes: { configPath: "~/.kube/config" } });
  new RandomProvider(stack, "random");
  build(stack);
  if (options.policies ?? true) Aspects.of(stack).add(new PlatformPolicies());
  return wrap(JSON.parse(Testing.synth(stack, true)));
}

export function wrap(json: Json): Synthesized {
  const resources = (type: string): Json[] => Object.values(json.resource?.[type] ?? {});
  return {
    json,
    resources,
    named(type, name) {
      const found = resources(type).filter((r) => (r.metadata?.name ?? r.name) === name);
      if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
      return found[0];
    },
    customResources() {
      const bundled = resources("helm_release")
        .filter((r) => String(r.chart).startsWith("./assets/"))
        .flatMap((r) => (parse(r.values[0]) as { objects: Json[] }).objects);
      return [...resources("kubernetes_manifest").map((m) => m.manifest), ...bundled];
    },
    helmValues(releaseName) {
      const release = resources("helm_release").find((r) => r.name === releaseName);
      if (!release) throw new Error(`no helm_release ${releaseName}`);
      return parseAllDocuments(release.values[0])[0].toJS();
    },
  };
}

/**
 * Validates objects against the CRD schemas of the pinned charts (see crd-validator.ts); returns one string per
 * invalid object: `Kind namespace/name: problem, problem`.
 */
export function crdErrors(objects: readonly Json[]): string[] {
  return objects.flatMap((object) => {
    const problems = crdProblems(object);
    return problems.length === 0 ? [] : [`${object.kind} ${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}: ${problems.join(", ")}`];
  });
}

/** Minimal valid props reused across tests. */
export const NETWORK = {
  ingressNamespace: "istio-ingress",
  monitoringNamespace: "monitoring",
  meshNamespace: "istio-system",
  registry: { namespace: "mlflow", podLabels: { "app.kubernetes.io/name": "mlflow" }, port: 5000 },
  database: { namespace: "mlflow", podLabels: { "cnpg.io/cluster": "mlflow-db" }, port: 5432 },
};

/** What a model stack gets from the platform (dev-like: an in-cluster S3-compatible store), for model-level constructs. */
export const PLATFORM = {
  namespace: "models",
  trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000",
  pushgatewayUrl: "http://pushgateway.monitoring.svc.cluster.local:9091",
  prometheusRelease: "kps",
  monitoringNamespace: "monitoring",
  meshNamespace: "istio-system",
  ingressNamespace: "istio-ingress",
  gateway: "istio-ingress/modelport",
  registryPeer: NETWORK.registry,
  databasePeer: NETWORK.database,
  reportBucket: "modelport",
  predictionLog: { secretName: "prediction-log", key: "url" },
  s3Endpoint: { url: "http://seaweedfs.mlflow.svc.cluster.local:8333", credentialsSecret: "artifact-store-credentials" },
};
