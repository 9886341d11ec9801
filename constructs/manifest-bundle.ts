import { join } from "node:path";
import { Release } from "@cdktf/provider-helm/lib/release";
import { AssetType, dependable, ITerraformDependable, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { stringify } from "yaml";
import { repositoryRoot } from "./repository-root";

/** A Kubernetes object as plain data (custom resources: apiVersion, kind, metadata, spec). */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: unknown;
}

export interface ManifestBundleProps {
  /** Helm release name; unique per namespace. */
  readonly name: string;
  /** Namespace that stores the Helm release record (objects carry their own namespaces). */
  readonly namespace: string;
  /** Objects to apply. More can be added with `add()`. @default none */
  readonly objects?: readonly KubernetesObject[];
  /** Releases that install the CRDs these objects need. @default none */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * Applies custom resources through the repository's tiny local Helm chart (constructs/charts/manifests).
 * Why not kubernetes_manifest: it needs the CRD at plan time, so a resource whose CRD is installed by a chart in
 * the same stack (Prometheus Operator, Istio, CloudNativePG in the platform stack) would fail the first plan.
 * Helm resolves kinds at install time, after `dependsOn`. Model stacks, deployed after the platform, use
 * kubernetes_manifest directly for per-resource diffs.
 */
export class ManifestBundle extends Construct {
  readonly release: Release;
  private readonly objects: KubernetesObject[];

  constructor(scope: Construct, id: string, props: ManifestBundleProps) {
    super(scope, id);
    this.objects = [...(props.objects ?? [])];
    const chart = new TerraformAsset(this, "Chart", { path: manifestsChartDir(), type: AssetType.DIRECTORY });
    this.release = new Release(this, "Resource", {
      name: props.name,
      namespace: props.namespace,
      chart: `./${chart.path}`,
      // Objects are resolved lazily so add() after construction still lands in the synthesized values.
      values: [this.valuesYaml()],
      dependsOn: props.dependsOn,
    });
  }

  /** Adds an object to the bundle. */
  add(object: KubernetesObject): void {
    this.objects.push(object);
    this.release.values = [this.valuesYaml()];
  }

  /** Makes the release wait for more resources (Secrets its objects reference, CRD releases). */
  dependOn(...resources: ITerraformDependable[]): void {
    this.release.dependsOn = [...(this.release.dependsOn ?? []), ...resources.map((r) => dependable(r))];
  }

  /** The objects this bundle applies (for tests and for schema validation). */
  get manifests(): readonly KubernetesObject[] {
    return this.objects;
  }

  private valuesYaml(): string {
    return stringify({ objects: this.objects });
  }
}

/** The chart folder under the repository root. */
function manifestsChartDir(): string {
  return join(repositoryRoot(), "constructs", "charts", "manifests");
}
