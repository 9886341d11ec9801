import { Release } from "@cdktf/provider-helm/lib/release";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { stringify } from "yaml";
import { ChartRef, EXACT_VERSION } from "./versions";

export interface HelmChartProps {
  /** Repository, chart and exact version (see CHARTS in versions.ts). */
  readonly chart: ChartRef;
  /** Release name. */
  readonly name: string;
  readonly namespace: string;
  /** Chart values. Never put secrets here: reference Kubernetes Secrets by name instead. @default {} */
  readonly values?: Record<string, unknown>;
  /** Create the namespace if it does not exist. @default false */
  readonly createNamespace?: boolean;
  /** Wait until all resources are ready before marking the release successful. @default true */
  readonly wait?: boolean;
  /** @default none */
  readonly dependsOn?: ITerraformDependable[];
}

/** A Helm release of a pinned chart; values are rendered to one YAML document so `cdktf diff` shows them. */
export class HelmChart extends Construct {
  readonly release: Release;

  constructor(scope: Construct, id: string, props: HelmChartProps) {
    super(scope, id);
    if (!EXACT_VERSION.test(props.chart.version)) {
      throw new Error(
        `HelmChart ${props.name}: chart ${props.chart.chart} version "${props.chart.version}" is not pinned; ` +
          `use an exact version such as "1.2.3" (see constructs/versions.ts)`,
      );
    }
    this.release = new Release(this, "Resource", {
      name: props.name,
      namespace: props.namespace,
      repository: props.chart.repository,
      chart: props.chart.chart,
      version: props.chart.version,
      values: [stringify(props.values ?? {})],
      createNamespace: props.createNamespace ?? false,
      wait: props.wait ?? true,
      atomic: true,
      cleanupOnFail: true,
      dependsOn: props.dependsOn,
    });
  }
}
