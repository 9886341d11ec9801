/**
 * Monthly cost of a synthesized stack, from its cdk.tf.json and a committed price table: the EKS control plane,
 * node groups (instance type x desired size, GPU types included, root volumes), NAT gateways and their public
 * IPs, RDS (class, Multi-AZ, storage), S3 (at an assumed stored size), Secrets Manager, load balancers and EBS
 * volumes, including those the Helm charts create (a LoadBalancer Service, PersistentVolumeClaims). A resource
 * type without a price is listed as not priced, with the reason, and never counted as zero; types that AWS does
 * not bill (a VPC, a subnet, an IAM role, a Kubernetes object on priced nodes) are listed as no charge.
 */
import { parse } from "yaml";
import type { SynthStack } from "../ci/synth-output";
import type { PriceTable } from "./price-table";

export interface LineItem {
  /** `<type>.<logical id>` as Terraform addresses it. */
  readonly address: string;
  readonly type: string;
  /** What is charged: "3 x m6i.2xlarge (on-demand)". */
  readonly what: string;
  readonly quantity: number;
  readonly unit: "hour" | "GB-month" | "month";
  readonly unitPrice: number;
  readonly monthly: number;
  /** Assumptions and what is left out (usage-based parts). */
  readonly note?: string;
}

export interface NotPriced {
  readonly address: string;
  readonly type: string;
  readonly reason: string;
}

export interface StackCost {
  readonly stack: string;
  readonly environment: string;
  readonly kind: string;
  readonly region?: string;
  readonly pricesRetrieved?: string;
  /** Sum of the line items (USD per month). */
  readonly monthly: number;
  readonly items: readonly LineItem[];
  readonly notPriced: readonly NotPriced[];
  /** Resource types AWS does not bill by themselves, with their count. */
  readonly noCharge: Readonly<Record<string, number>>;
}

export interface CostAssumptions {
  /** GB stored per S3 bucket (usage the configuration cannot know). @default 100 */
  readonly s3StoredGb: number;
}

export const DEFAULT_ASSUMPTIONS: CostAssumptions = { s3StoredGb: 100 };

type Resource = Record<string, unknown>;
interface Context {
  readonly prices?: PriceTable;
  /** Why nothing cloud-side can be priced here, when that is the case (no AWS provider, no table). */
  readonly unpriceable?: string;
  readonly assumptions: CostAssumptions;
}
type Priced = { readonly items: Omit<LineItem, "address" | "type" | "monthly">[] } | { readonly notPriced: string } | "no charge";

/** AWS types with no charge of their own (networking plumbing, identity, configuration of billed resources). */
const NO_CHARGE_AWS = new Set([
  "aws_vpc", "aws_subnet", "aws_route_table", "aws_route_table_association", "aws_internet_gateway", "aws_security_group",
  "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule",
  "aws_db_subnet_group", "aws_eks_addon", "aws_eks_access_entry", "aws_eks_access_policy_association", "aws_iam_openid_connect_provider",
  "aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment", "aws_secretsmanager_secret_version",
  "aws_s3_bucket_lifecycle_configuration", "aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy", "aws_s3_bucket_public_access_block",
  "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_versioning",
]);

/** EKS managed node groups without a launch template: 20 GiB root volume (AWS CreateNodegroup default), gp2. */
const NODE_ROOT_DEFAULT_GB = 20;

export function estimateStack(stack: SynthStack, priceFor: (region: string) => PriceTable | undefined, assumptions = DEFAULT_ASSUMPTIONS): StackCost {
  const region = awsRegion(stack);
  const prices = region ? priceFor(region) : undefined;
  const unpriceable = !region
    ? "the stack runs on an existing cluster (kubeconfig, no AWS provider): its cost is outside these stacks"
    : !prices
      ? `no price table for region ${region} (stacks/cost/prices/${region}.json)`
      : undefined;
  const context: Context = { prices, unpriceable, assumptions };
  const items: LineItem[] = [];
  const notPriced: NotPriced[] = [];
  const noCharge: Record<string, number> = {};
  for (const [type, resources] of Object.entries(stack.config.resource ?? {})) {
    for (const [id, resource] of Object.entries(resources)) {
      const address = `${type}.${id}`;
      const priced = priceResource(type, resource, context);
      if (priced === "no charge") noCharge[type] = (noCharge[type] ?? 0) + 1;
      else if ("notPriced" in priced) notPriced.push({ address, type, reason: priced.notPriced });
      else for (const item of priced.items) items.push({ address, type, ...item, monthly: round(item.quantity * item.unitPrice) });
    }
  }
  items.sort((a, b) => b.monthly - a.monthly || a.address.localeCompare(b.address));
  return {
    stack: stack.name,
    environment: stack.environment,
    kind: stack.kind,
    region,
    pricesRetrieved: prices?.retrieved,
    monthly: round(items.reduce((sum, item) => sum + item.monthly, 0)),
    items,
    notPriced,
    noCharge,
  };
}

function priceResource(type: string, r: Resource, c: Context): Priced {
  // random_* and terraform_data live in the state only.
  if (NO_CHARGE_AWS.has(type) || type.startsWith("random_") || type === "terraform_data") return "no charge";
  if (type === "helm_release") return helmRelease(r, c);
  if (type === "kubernetes_persistent_volume_claim_v1" || type === "kubernetes_persistent_volume_claim") return persistentVolume(claimSize(r), "PersistentVolumeClaim", c);
  if (type === "kubernetes_service_v1" || type === "kubernetes_service") return kubernetesService(r, c);
  if (type.startsWith("kubernetes_")) return "no charge";
  const pricer = AWS_PRICERS[type];
  if (!pricer) return { notPriced: `${type} is not in the cost model (stacks/cost/estimate.ts)` };
  if (c.unpriceable || !c.prices) return { notPriced: c.unpriceable ?? "no prices" };
  return pricer(r, c.prices, c.assumptions);
}

const AWS_PRICERS: Record<string, (r: Resource, p: PriceTable, a: CostAssumptions) => Priced> = {
  aws_eks_cluster: (_r, p) => hourly("EKS control plane", 1, p.eksClusterHour, p),
  aws_eks_node_group: nodeGroup,
  aws_nat_gateway: (_r, p) => ({
    items: [{ what: "NAT gateway", quantity: p.hoursPerMonth, unit: "hour", unitPrice: p.natGatewayHour, note: `plus $${p.natGatewayPerGb}/GB processed (usage, not included)` }],
  }),
  aws_eip: (_r, p) => hourly("public IPv4 address", 1, p.publicIpv4Hour, p),
  aws_db_instance: database,
  aws_s3_bucket: (_r, p, a) => ({
    items: [{ what: "S3 Standard storage", quantity: a.s3StoredGb, unit: "GB-month", unitPrice: p.s3StandardGbMonth, note: `${a.s3StoredGb} GB stored assumed (--s3-gb); requests and transfer not included` }],
  }),
  aws_secretsmanager_secret: (_r, p) => ({ items: [{ what: "Secrets Manager secret", quantity: 1, unit: "month", unitPrice: p.secretsManagerSecretMonth }] }),
  aws_lb: (r, p) => loadBalancer(String(r.load_balancer_type ?? "application") as "application" | "network", p),
  aws_elb: (_r, p) => loadBalancer("classic", p),
  aws_ebs_volume: (r, p) => ebs(Number(r.size ?? 0), String(r.type ?? "gp3"), "EBS volume", p),
};

function nodeGroup(r: Resource, p: PriceTable): Priced {
  const types = (r.instance_types as string[] | undefined) ?? ["t3.medium"];
  const desired = Number((r.scaling_config as { desired_size?: number } | undefined)?.desired_size ?? 0);
  const price = p.ec2Hour[types[0]];
  if (price === undefined) return { notPriced: `no on-demand price for instance type ${types[0]} in the ${p.region} table` };
  const notes = [
    types.length > 1 ? `priced as ${types[0]}, the first of ${types.join(", ")} (on-demand node groups launch them in that order)` : "",
    r.capacity_type === "SPOT" ? "SPOT capacity priced at on-demand (an upper bound)" : "",
    desired === 0 ? "desired size 0: scales from zero" : "",
  ].filter(Boolean);
  const disk = Number(r.disk_size ?? NODE_ROOT_DEFAULT_GB);
  const compute = { what: `${desired} x ${types[0]}`, quantity: desired * p.hoursPerMonth, unit: "hour" as const, unitPrice: price, note: notes.join("; ") || undefined };
  const root = { what: `${desired} x ${disk} GB root volume (gp2)`, quantity: desired * disk, unit: "GB-month" as const, unitPrice: p.ebsGbMonth.gp2 };
  return { items: desired > 0 ? [compute, root] : [compute] };
}

function database(r: Resource, p: PriceTable): Priced {
  const cls = String(r.instance_class);
  if (r.engine !== "postgres") return { notPriced: `engine ${String(r.engine)} is not in the ${p.region} table (PostgreSQL only)` };
  const hour = p.rdsPostgresHour[cls];
  const storageType = String(r.storage_type ?? "gp2");
  const gbMonth = p.rdsStorageGbMonth[storageType];
  if (hour === undefined) return { notPriced: `no RDS PostgreSQL price for ${cls} in the ${p.region} table` };
  if (gbMonth === undefined) return { notPriced: `no RDS storage price for ${storageType} in the ${p.region} table` };
  const copies = r.multi_az ? 2 : 1;
  const az = r.multi_az ? "Multi-AZ" : "single-AZ";
  const gb = Number(r.allocated_storage ?? 0);
  return {
    items: [
      { what: `RDS PostgreSQL ${cls} (${az})`, quantity: copies * p.hoursPerMonth, unit: "hour", unitPrice: hour },
      { what: `RDS ${storageType} storage ${gb} GB (${az})`, quantity: copies * gb, unit: "GB-month", unitPrice: gbMonth, note: r.max_allocated_storage ? `autoscaling up to ${String(r.max_allocated_storage)} GB not included` : undefined },
    ],
  };
}

/** What a chart makes AWS create: the Istio gateway's LoadBalancer Service, PVCs of Prometheus and the Pushgateway. */
function helmRelease(r: Resource, c: Context): Priced {
  const values = ((r.values as string[] | undefined) ?? []).map((v) => (parse(v) ?? {}) as Record<string, any>).reduce((a, b) => ({ ...a, ...b }), {});
  const parts: Priced[] = [];
  if (r.chart === "gateway" && values.service?.type === "LoadBalancer") parts.push(serviceLoadBalancer(values.service.annotations, c));
  if (r.chart === "kube-prometheus-stack") {
    const spec = values.prometheus?.prometheusSpec;
    const size = spec?.storageSpec?.volumeClaimTemplate?.spec?.resources?.requests?.storage;
    if (size) parts.push(persistentVolume(quantityGb(size) * Number(spec.replicas ?? 1), `Prometheus storage (${spec.replicas ?? 1} x ${size})`, c));
    const am = values.alertmanager?.alertmanagerSpec?.storage?.volumeClaimTemplate?.spec?.resources?.requests?.storage;
    if (am) parts.push(persistentVolume(quantityGb(am), `Alertmanager storage (${am})`, c));
    if (values.grafana?.persistence?.enabled) parts.push(persistentVolume(quantityGb(values.grafana.persistence.size ?? "10Gi"), "Grafana storage", c));
  }
  // The platform's local charts (constructs/charts/manifests) carry objects; a CloudNativePG Cluster claims volumes.
  for (const object of (values.objects ?? []) as Record<string, any>[]) {
    if (object.kind === "Cluster" && String(object.apiVersion).startsWith("postgresql.cnpg.io/") && object.spec?.storage?.size) {
      const instances = Number(object.spec.instances ?? 1);
      parts.push(persistentVolume(quantityGb(object.spec.storage.size) * instances, `CloudNativePG storage (${instances} x ${object.spec.storage.size})`, c));
    }
  }
  if (r.chart === "prometheus-pushgateway" && values.persistentVolume?.enabled) {
    parts.push(persistentVolume(quantityGb(values.persistentVolume.size ?? "2Gi"), `Pushgateway storage (${values.persistentVolume.size ?? "2Gi"})`, c));
  }
  const notPriced = parts.find((p): p is { notPriced: string } => typeof p === "object" && "notPriced" in p);
  if (notPriced) return notPriced;
  const items = parts.flatMap((p) => (typeof p === "object" && "items" in p ? p.items : []));
  // Everything else a chart runs is pods on the priced node groups.
  return items.length > 0 ? { items } : "no charge";
}

function kubernetesService(r: Resource, c: Context): Priced {
  const spec = (r.spec as { type?: string } | undefined) ?? {};
  if (spec.type !== "LoadBalancer") return "no charge";
  return serviceLoadBalancer((r.metadata as { annotations?: Record<string, string> } | undefined)?.annotations, c);
}

/** A Service of type LoadBalancer: an NLB when annotated so, else the in-tree controller's Classic Load Balancer. */
function serviceLoadBalancer(annotations: Record<string, string> | undefined, c: Context): Priced {
  if (c.unpriceable || !c.prices) return { notPriced: c.unpriceable ?? "no prices" };
  const nlb = annotations?.["service.beta.kubernetes.io/aws-load-balancer-type"] === "nlb" || annotations?.["service.beta.kubernetes.io/aws-load-balancer-type"] === "external";
  return loadBalancer(nlb ? "network" : "classic", c.prices, "Service type LoadBalancer");
}

function loadBalancer(kind: "classic" | "network" | "application", p: PriceTable, origin = ""): Priced {
  const name = { classic: "Classic Load Balancer", network: "Network Load Balancer", application: "Application Load Balancer" }[kind];
  return {
    items: [{ what: `${name}${origin ? ` (${origin})` : ""}`, quantity: p.hoursPerMonth, unit: "hour", unitPrice: p.loadBalancerHour[kind], note: "plus data or capacity units (usage, not included)" }],
  };
}

function persistentVolume(gb: number, what: string, c: Context): Priced {
  if (c.unpriceable || !c.prices) return { notPriced: c.unpriceable ?? "no prices" };
  return ebs(gb, "gp3", what, c.prices);
}

function ebs(gb: number, volumeType: string, what: string, p: PriceTable): Priced {
  const price = p.ebsGbMonth[volumeType];
  if (price === undefined) return { notPriced: `no EBS price for ${volumeType} in the ${p.region} table` };
  return { items: [{ what: `${what}: ${gb} GB ${volumeType}`, quantity: gb, unit: "GB-month", unitPrice: price }] };
}

function claimSize(r: Resource): number {
  const spec = (r.spec as { resources?: { requests?: { storage?: string } } } | undefined) ?? {};
  return quantityGb(spec.resources?.requests?.storage ?? "0");
}

/** A Kubernetes storage quantity in GB as EBS bills it (GiB; "10Gi" = 10, "500Mi" = 0.49). */
export function quantityGb(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity).trim());
  if (!match) throw new Error(`storage quantity "${quantity}" is not a Kubernetes quantity`);
  const scale: Record<string, number> = { Ki: 1 / 1024 ** 2, Mi: 1 / 1024, Gi: 1, Ti: 1024, k: 1e3 / 1024 ** 3, M: 1e6 / 1024 ** 3, G: 1e9 / 1024 ** 3, T: 1e12 / 1024 ** 3 };
  return Number(match[1]) * (match[2] ? scale[match[2]] : 1 / 1024 ** 3);
}

function hourly(what: string, count: number, price: number, p: PriceTable): Priced {
  return { items: [{ what, quantity: count * p.hoursPerMonth, unit: "hour", unitPrice: price }] };
}

function awsRegion(stack: SynthStack): string | undefined {
  const aws = stack.config.provider?.aws?.[0] as { region?: string } | undefined;
  return aws?.region;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
