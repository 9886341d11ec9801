import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { DataAwsIamOpenidConnectProvider } from "@cdktf/provider-aws/lib/data-aws-iam-openid-connect-provider";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { IrsaConfig, IrsaRole } from "./irsa-role";

/** Size of an EKS managed node group. */
export interface NodeGroupSize {
  readonly instanceTypes: readonly string[];
  readonly min: number;
  readonly max: number;
  /** @default min */
  readonly desired?: number;
}

/** A new EKS cluster in a new VPC. */
export interface EksClusterSource {
  readonly kind: "eks";
  readonly region: string;
  /** Kubernetes minor version, e.g. "1.33". */
  readonly version: string;
  /** @default "10.0.0.0/16" */
  readonly vpcCidr?: string;
  /** Availability zones to spread subnets over. @default 3 */
  readonly availabilityZones?: number;
  /** One NAT gateway (cheaper) or one per zone (survives a zone outage). @default "single" */
  readonly natGateways?: "single" | "per-zone";
  /** The node group for platform components (Prometheus, Istio, MLflow, CPU models). */
  readonly systemNodes: NodeGroupSize;
}

/** A cluster that already exists (kind, k3d, a non-AWS managed cluster), reached through a kubeconfig context. */
export interface KubeconfigClusterSource {
  readonly kind: "kubeconfig";
  /** @default "~/.kube/config" */
  readonly configPath?: string;
  readonly context: string;
}

export type ClusterSource = EksClusterSource | KubeconfigClusterSource;

/** What every construct that deploys into the cluster needs, whether the cluster was created or looked up. */
export interface ClusterConnection {
  readonly name: string;
  readonly kubernetesProvider: KubernetesProvider;
  readonly helmProvider: HelmProvider;
  /** Present on EKS. */
  readonly irsa?: IrsaConfig;
  /** AWS region on EKS. */
  readonly region?: string;
}

export interface ClusterProps {
  /** Cluster name (EKS) or a label for the existing cluster. */
  readonly name: string;
  readonly source: ClusterSource;
}

/** Details of a cluster created by this construct on AWS. */
export interface EksDetails {
  readonly cluster: EksCluster;
  readonly vpc: Vpc;
  readonly privateSubnetIds: string[];
  readonly nodeRole: IamRole;
  readonly oidcProvider: IamOpenidConnectProvider;
  /** The EBS CSI driver add-on (PersistentVolumes). */
  readonly ebsCsiDriver: EksAddon;
}

/** The default StorageClass this construct gives an EKS cluster (EKS >= 1.30 ships none). */
export const DEFAULT_STORAGE_CLASS = "gp3-encrypted";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,98}[a-z0-9])?$/;

/**
 * The Kubernetes cluster and the Kubernetes and Helm providers configured from it. On AWS: a VPC (public
 * subnets for load balancers, private subnets for nodes), an EKS cluster with API authentication, an OIDC
 * provider for IRSA, the EBS CSI driver and a system node group. Elsewhere: an existing cluster by kubeconfig
 * context, for development and non-AWS clusters.
 */
export class Cluster extends Construct implements ClusterConnection {
  readonly name: string;
  readonly kubernetesProvider: KubernetesProvider;
  readonly helmProvider: HelmProvider;
  readonly irsa?: IrsaConfig;
  readonly region?: string;
  /** Set when this construct created an EKS cluster. */
  readonly eks?: EksDetails;
  /**
   * What a PersistentVolumeClaim without a storage class needs before it can bind: on EKS the default StorageClass
   * this construct creates; elsewhere nothing (the existing cluster's default is used).
   */
  readonly storageReady: ITerraformDependable[] = [];

  /**
   * Connects to a cluster created by another stack (a platform stack) from the same configuration: data
   * sources by name on EKS, the same kubeconfig context elsewhere. No cross-stack outputs are involved.
   */
  static connect(scope: Construct, id: string, props: ClusterProps): ClusterConnection {
    validateClusterProps(props);
    const c = new Construct(scope, id);
    const source = props.source;
    if (source.kind === "kubeconfig") {
      return { name: props.name, ...kubeconfigProviders(c, source) };
    }
    const cluster = new DataAwsEksCluster(c, "Cluster", { name: props.name });
    const issuerUrl = cluster.identity.get(0).oidc.get(0).issuer;
    const oidc = new DataAwsIamOpenidConnectProvider(c, "Oidc", { url: issuerUrl });
    return {
      name: props.name,
      region: source.region,
      irsa: { oidcProviderArn: oidc.arn, oidcIssuer: Fn.replace(issuerUrl, "https://", "") },
      ...eksProviders(c, props.name, source.region, cluster.endpoint, cluster.certificateAuthority.get(0).data),
    };
  }

  constructor(scope: Construct, id: string, props: ClusterProps) {
    super(scope, id);
    validateClusterProps(props);
    this.name = props.name;
    const source = props.source;
    if (source.kind === "kubeconfig") {
      const providers = kubeconfigProviders(this, source);
      this.kubernetesProvider = providers.kubernetesProvider;
      this.helmProvider = providers.helmProvider;
      return;
    }
    this.region = source.region;
    this.eks = this.createEks(props.name, source);
    const issuerUrl = this.eks.cluster.identity.get(0).oidc.get(0).issuer;
    this.irsa = { oidcProviderArn: this.eks.oidcProvider.arn, oidcIssuer: Fn.replace(issuerUrl, "https://", "") };
    const providers = eksProviders(
      this,
      props.name,
      source.region,
      this.eks.cluster.endpoint,
      this.eks.cluster.certificateAuthority.get(0).data,
    );
    this.kubernetesProvider = providers.kubernetesProvider;
    this.helmProvider = providers.helmProvider;
    // EKS >= 1.30 creates no default StorageClass (Prometheus's and the Pushgateway's claims would stay Pending).
    // Not the add-on's own `defaultStorageClass`: it sets no `encrypted` parameter, so volumes would be unencrypted
    // wherever the account has no EBS encryption by default.
    const storageClass = new StorageClassV1(this, "DefaultStorageClass", {
      metadata: { name: DEFAULT_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      storageProvisioner: "ebs.csi.aws.com",
      parameters: { type: "gp3", encrypted: "true" },
      volumeBindingMode: "WaitForFirstConsumer",
      allowVolumeExpansion: true,
      reclaimPolicy: "Delete",
      dependsOn: [this.eks.ebsCsiDriver],
    });
    this.storageReady.push(storageClass);
  }

  private createEks(name: string, source: EksClusterSource): EksDetails {
    const zoneCount = source.availabilityZones ?? 3;
    const cidr = source.vpcCidr ?? "10.0.0.0/16";
    const zones = new DataAwsAvailabilityZones(this, "Zones", { state: "available" });
    const vpc = new Vpc(this, "Vpc", {
      cidrBlock: cidr,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: { Name: name },
    });
    const igw = new InternetGateway(this, "InternetGateway", { vpcId: vpc.id, tags: { Name: name } });
    const publicRoutes = new RouteTable(this, "PublicRoutes", {
      vpcId: vpc.id,
      route: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
      tags: { Name: `${name}-public` },
    });
    const publicSubnets: Subnet[] = [];
    const privateSubnets: Subnet[] = [];
    const nats: NatGateway[] = [];
    for (let i = 0; i < zoneCount; i++) {
      const az = Fn.element(zones.names, i);
      // /16 split into /20s: public subnets take the first zoneCount blocks, private ones the next.
      const pub = new Subnet(this, `Public${i}`, {
        vpcId: vpc.id,
        availabilityZone: az,
        cidrBlock: Fn.cidrsubnet(cidr, 4, i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${i}`, "kubernetes.io/role/elb": "1" },
      });
      new RouteTableAssociation(this, `PublicRoutes${i}`, { subnetId: pub.id, routeTableId: publicRoutes.id });
      publicSubnets.push(pub);
      if (i === 0 || source.natGateways === "per-zone") {
        const eip = new Eip(this, `NatIp${i}`, { domain: "vpc", tags: { Name: `${name}-nat-${i}` } });
        nats.push(new NatGateway(this, `Nat${i}`, { allocationId: eip.id, subnetId: pub.id, dependsOn: [igw] }));
      }
      const priv = new Subnet(this, `Private${i}`, {
        vpcId: vpc.id,
        availabilityZone: az,
        cidrBlock: Fn.cidrsubnet(cidr, 4, zoneCount + i),
        tags: { Name: `${name}-private-${i}`, "kubernetes.io/role/internal-elb": "1" },
      });
      const routes = new RouteTable(this, `PrivateRoutes${i}`, {
        vpcId: vpc.id,
        route: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[Math.min(i, nats.length - 1)].id }],
        tags: { Name: `${name}-private-${i}` },
      });
      new RouteTableAssociation(this, `PrivateRoutesAssoc${i}`, { subnetId: priv.id, routeTableId: routes.id });
      privateSubnets.push(priv);
    }

    const clusterRole = serviceRole(this, "ClusterRole", `${name}-cluster`, "eks.amazonaws.com", [
      "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    ]);
    const cluster = new EksCluster(this, "Resource", {
      name,
      version: source.version,
      roleArn: clusterRole.arn,
      vpcConfig: {
        subnetIds: [...privateSubnets, ...publicSubnets].map((s) => s.id),
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
      },
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
      enabledClusterLogTypes: ["api", "audit", "authenticator"],
    });
    const oidcProvider = new IamOpenidConnectProvider(this, "OidcProvider", {
      url: cluster.identity.get(0).oidc.get(0).issuer,
      clientIdList: ["sts.amazonaws.com"],
    });
    const nodeRole = serviceRole(this, "NodeRole", `${name}-node`, "ec2.amazonaws.com", [
      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
      "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    ]);
    const privateSubnetIds = privateSubnets.map((s) => s.id);
    const system = source.systemNodes;
    const systemNodes = new EksNodeGroup(this, "SystemNodes", {
      clusterName: cluster.name,
      nodeGroupName: "system",
      nodeRoleArn: nodeRole.arn,
      subnetIds: privateSubnetIds,
      amiType: "AL2023_x86_64_STANDARD",
      instanceTypes: [...system.instanceTypes],
      scalingConfig: { minSize: system.min, maxSize: system.max, desiredSize: system.desired ?? system.min },
      updateConfig: { maxUnavailable: 1 },
      labels: { "modelport.io/node-pool": "system" },
    });
    // PersistentVolumes (Prometheus, Alertmanager) need the EBS CSI driver; its controller uses IRSA.
    const ebsRole = new IrsaRole(this, "EbsCsiRole", {
      irsa: { oidcProviderArn: oidcProvider.arn, oidcIssuer: Fn.replace(oidcProvider.url, "https://", "") },
      roleName: `${name}-ebs-csi`,
      namespace: "kube-system",
      serviceAccount: "ebs-csi-controller-sa",
    }).role;
    new IamRolePolicyAttachment(this, "EbsCsiPolicy", {
      role: ebsRole.name,
      policyArn: "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    });
    const ebsCsiDriver = new EksAddon(this, "EbsCsiDriver", {
      clusterName: cluster.name,
      addonName: "aws-ebs-csi-driver",
      serviceAccountRoleArn: ebsRole.arn,
      dependsOn: [systemNodes],
    });
    // EKS installs vpc-cni itself, with NetworkPolicy enforcement off: managing it as an add-on turns the policy
    // agent on, so the constructs' default-deny NetworkPolicies are enforced. OVERWRITE adopts the self-managed one.
    new EksAddon(this, "VpcCni", {
      clusterName: cluster.name,
      addonName: "vpc-cni",
      configurationValues: JSON.stringify({ enableNetworkPolicy: "true" }),
      resolveConflictsOnCreate: "OVERWRITE",
      resolveConflictsOnUpdate: "OVERWRITE",
    });
    return { cluster, vpc, privateSubnetIds, nodeRole, oidcProvider, ebsCsiDriver };
  }
}

function validateClusterProps(props: ClusterProps): void {
  if (!DNS_LABEL.test(props.name)) {
    throw new Error(`Cluster name "${props.name}" must be lowercase letters, digits and '-' (max 100 characters)`);
  }
  const source = props.source;
  if (source.kind === "kubeconfig") {
    if (!source.context) throw new Error(`Cluster ${props.name}: source.context is required (a kubeconfig context name)`);
    return;
  }
  if (!/^1\.\d+$/.test(source.version)) {
    throw new Error(`Cluster ${props.name}: version "${source.version}" must be a Kubernetes minor version like "1.33"`);
  }
  const zones = source.availabilityZones ?? 3;
  if (!Number.isInteger(zones) || zones < 2 || zones > 6) {
    throw new Error(`Cluster ${props.name}: availabilityZones must be 2..6 (EKS needs subnets in two zones), got ${zones}`);
  }
  validateNodeGroupSize(`Cluster ${props.name} systemNodes`, source.systemNodes);
}

/** Shared by the system node group and GpuNodePool. */
export function validateNodeGroupSize(what: string, size: NodeGroupSize): void {
  if (size.instanceTypes.length === 0) throw new Error(`${what}: instanceTypes must list at least one type`);
  const desired = size.desired ?? size.min;
  for (const [field, value] of Object.entries({ min: size.min, max: size.max, desired })) {
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`${what}: ${field} must be a non-negative integer, got ${value}`);
    }
  }
  if (size.max < 1 || size.max < size.min || desired < size.min || desired > size.max) {
    throw new Error(`${what}: need 0 <= min <= desired <= max and max >= 1, got min=${size.min} desired=${desired} max=${size.max}`);
  }
}

function serviceRole(scope: Construct, id: string, name: string, service: string, policies: string[]): IamRole {
  const role = new IamRole(scope, id, {
    name,
    assumeRolePolicy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    }),
  });
  policies.forEach((policyArn, i) => new IamRolePolicyAttachment(scope, `${id}Policy${i}`, { role: role.name, policyArn }));
  return role;
}

function kubeconfigProviders(scope: Construct, source: KubeconfigClusterSource) {
  const configPath = source.configPath ?? "~/.kube/config";
  return {
    kubernetesProvider: new KubernetesProvider(scope, "Kubernetes", { configPath, configContext: source.context }),
    helmProvider: new HelmProvider(scope, "Helm", { kubernetes: { configPath, configContext: source.context } }),
  };
}

/** Short-lived tokens from `aws eks get-token` (never a static token in state). */
function eksProviders(scope: Construct, name: string, region: string, host: string, caData: string) {
  const exec = {
    apiVersion: "client.authentication.k8s.io/v1beta1",
    command: "aws",
    args: ["eks", "get-token", "--cluster-name", name, "--region", region],
  };
  const clusterCaCertificate = Fn.base64decode(caData);
  return {
    kubernetesProvider: new KubernetesProvider(scope, "Kubernetes", { host, clusterCaCertificate, exec: [exec] }),
    helmProvider: new HelmProvider(scope, "Helm", { kubernetes: { host, clusterCaCertificate, exec } }),
  };
}
