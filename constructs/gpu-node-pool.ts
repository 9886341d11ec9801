import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { Construct } from "constructs";
import { DCGM_EXPORTER_PORT } from "../service/src/contract";
import { NodeGroupSize, validateNodeGroupSize } from "./cluster";
import { HelmChart } from "./helm-chart";
import { CHARTS } from "./versions";

/**
 * The taint every GPU node carries and the label it is selected by: InferenceService's toleration and node
 * selector are built from these same constants, so they cannot drift apart.
 */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" } as const;
export const GPU_NODE_LABEL = { key: "modelport.io/node-pool", value: "gpu" } as const;
/** Extended resource the NVIDIA device plugin advertises. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The toleration a pod needs to land on a GPU node. */
export function gpuToleration() {
  return { key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect };
}

const EKS_TAINT_EFFECT = { NoSchedule: "NO_SCHEDULE" } as const;

export interface GpuNodePoolProps {
  readonly clusterName: string;
  readonly nodeRole: IamRole;
  readonly subnetIds: string[];
  /** GPU instance types, e.g. ["g5.xlarge", "g6.xlarge"]. */
  readonly size: NodeGroupSize;
  /** EKS AMI type with the NVIDIA driver. @default "AL2023_x86_64_NVIDIA" */
  readonly amiType?: "AL2023_x86_64_NVIDIA" | "BOTTLEROCKET_x86_64_NVIDIA" | "AL2023_ARM_64_NVIDIA";
  /** ON_DEMAND or SPOT. @default "ON_DEMAND" */
  readonly capacityType?: "ON_DEMAND" | "SPOT";
  /** Node root volume (model images are large). @default 100 */
  readonly diskSizeGb?: number;
  /** Namespace for the device plugin and DCGM exporter. @default "gpu-operator-resources" */
  readonly namespace?: string;
  /** kube-prometheus-stack release name, for the DCGM ServiceMonitor's label. */
  readonly prometheusRelease: string;
  /** Node group name. @default "gpu" */
  readonly name?: string;
}

/**
 * An EKS managed node group of NVIDIA GPU nodes, tainted so only pods that ask for a GPU land there, plus the
 * NVIDIA device plugin (advertises nvidia.com/gpu) and the DCGM exporter (GPU metrics, scraped through a
 * ServiceMonitor). Both DaemonSets run only on the GPU nodes.
 */
export class GpuNodePool extends Construct {
  readonly nodeGroup: EksNodeGroup;
  readonly devicePlugin: HelmChart;
  readonly dcgmExporter: HelmChart;

  constructor(scope: Construct, id: string, props: GpuNodePoolProps) {
    super(scope, id);
    validateNodeGroupSize("GpuNodePool size", props.size);
    const disk = props.diskSizeGb ?? 100;
    if (!Number.isInteger(disk) || disk < 20) throw new Error(`GpuNodePool diskSizeGb must be an integer >= 20, got ${disk}`);
    const nonGpu = props.size.instanceTypes.filter((t) => !/^(p\d|g\d)/.test(t));
    if (nonGpu.length > 0) {
      throw new Error(`GpuNodePool instanceTypes ${nonGpu.join(", ")} are not NVIDIA GPU families (g4dn, g5, g6, p4d, p5, ...)`);
    }
    const namespace = props.namespace ?? "gpu-operator-resources";

    this.nodeGroup = new EksNodeGroup(this, "Resource", {
      clusterName: props.clusterName,
      nodeGroupName: props.name ?? "gpu",
      nodeRoleArn: props.nodeRole.arn,
      subnetIds: props.subnetIds,
      amiType: props.amiType ?? "AL2023_x86_64_NVIDIA",
      capacityType: props.capacityType ?? "ON_DEMAND",
      instanceTypes: [...props.size.instanceTypes],
      diskSize: disk,
      scalingConfig: { minSize: props.size.min, maxSize: props.size.max, desiredSize: props.size.desired ?? props.size.min },
      updateConfig: { maxUnavailable: 1 },
      labels: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value, "nvidia.com/gpu.present": "true" },
      taint: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: EKS_TAINT_EFFECT[GPU_TAINT.effect] }],
    });

    const ns = new NamespaceV1(this, "Namespace", { metadata: { name: namespace } });
    const onGpuNodes = {
      nodeSelector: { [GPU_NODE_LABEL.key]: GPU_NODE_LABEL.value },
      tolerations: [gpuToleration()],
    };
    this.devicePlugin = new HelmChart(this, "DevicePlugin", {
      chart: CHARTS.nvidiaDevicePlugin,
      name: "nvidia-device-plugin",
      namespace,
      dependsOn: [ns, this.nodeGroup],
      values: { ...onGpuNodes, gfd: { enabled: false } },
    });
    this.dcgmExporter = new HelmChart(this, "DcgmExporter", {
      chart: CHARTS.dcgmExporter,
      name: "dcgm-exporter",
      namespace,
      dependsOn: [ns, this.devicePlugin.release],
      values: {
        ...onGpuNodes,
        service: { port: DCGM_EXPORTER_PORT },
        serviceMonitor: { enabled: true, interval: "15s", additionalLabels: { release: props.prometheusRelease } },
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
      },
    });
  }
}
