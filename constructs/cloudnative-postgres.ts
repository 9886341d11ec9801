import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { validateOwnerName } from "./database-owner-sql";
import { HelmChart } from "./helm-chart";
import { validateDnsLabel } from "./kube";
import { KubernetesObject, ManifestBundle } from "./manifest-bundle";
import { NetworkPeer } from "./network-peer";
import { DatabaseOwner, postgresUrl, PostgresServer, PostgresTrust } from "./postgres-server";
import { CHARTS, IMAGES } from "./versions";

export interface CloudNativePostgresProps {
  /** Cluster name; its read-write Service is `<name>-rw`. */
  readonly name: string;
  readonly namespace: string;
  /** Resources that create `namespace`. @default none */
  readonly namespaceReady?: ITerraformDependable[];
  /** The application database, owned by `owner`. */
  readonly databaseName: string;
  readonly owner: string;
  /** The owner's generated password (a Terraform reference). */
  readonly ownerPassword: string;
  /** @default 1 */
  readonly instances?: number;
  /** @default "10Gi" */
  readonly storageSize?: string;
}

const PG_PORT = 5432;

/**
 * PostgreSQL run by the CloudNativePG operator (operator chart pinned) inside an existing cluster. TLS is always on
 * with a CA the operator generates in-cluster; clients use sslmode=require (encrypted, not verified: that CA never
 * leaves the database namespace). Consumers get declaratively managed roles, Database objects they own, and pg_hba
 * rules that admit each role over TLS to its own database only.
 */
export class CloudNativePostgres extends Construct implements PostgresServer {
  readonly host: string;
  readonly port = PG_PORT;
  readonly peer: NetworkPeer;
  readonly trust: PostgresTrust = { sslmode: "require" };
  readonly namespace: string;
  readonly ready: ITerraformDependable[];
  /** The owner's URL to the application database. */
  readonly ownerUrl: string;
  private readonly bundle: ManifestBundle;
  private readonly cluster: KubernetesObject & { spec: ClusterSpec };
  private readonly namespaceReady: ITerraformDependable[];
  private readonly name: string;

  constructor(scope: Construct, id: string, props: CloudNativePostgresProps) {
    super(scope, id);
    validateDnsLabel("CloudNativePostgres name", props.name);
    validateDnsLabel("CloudNativePostgres namespace", props.namespace);
    validateOwnerName("CloudNativePostgres databaseName", props.databaseName);
    validateOwnerName("CloudNativePostgres owner", props.owner);
    const instances = props.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1) throw new Error(`CloudNativePostgres instances must be a positive integer, got ${instances}`);
    this.name = props.name;
    this.namespace = props.namespace;
    this.namespaceReady = props.namespaceReady ?? [];
    this.host = `${props.name}-rw.${props.namespace}.svc.cluster.local`;
    this.peer = { namespace: props.namespace, podLabels: { "cnpg.io/cluster": props.name }, port: PG_PORT };

    const operator = new HelmChart(this, "Operator", {
      chart: CHARTS.cloudnativePg,
      name: "cloudnative-pg",
      namespace: "cnpg-system",
      createNamespace: true,
    });
    const credentials = this.basicAuthSecret("OwnerCredentials", `${props.name}-credentials`, props.owner, props.ownerPassword);
    this.cluster = {
      apiVersion: "postgresql.cnpg.io/v1",
      kind: "Cluster",
      metadata: { name: props.name, namespace: props.namespace },
      spec: {
        instances,
        imageName: IMAGES.postgres,
        storage: { size: props.storageSize ?? "10Gi" },
        bootstrap: { initdb: { database: props.databaseName, owner: props.owner, secret: { name: credentials.metadata.name } } },
        managed: { roles: [] },
        postgresql: { pg_hba: [] },
      },
    };
    this.bundle = new ManifestBundle(this, "Resource", {
      name: props.name,
      namespace: props.namespace,
      objects: [this.cluster],
      dependsOn: [operator.release, credentials],
    });
    this.ready = [this.bundle.release];
    this.ownerUrl = postgresUrl(this, { user: props.owner, password: props.ownerPassword, database: props.databaseName });
  }

  addDatabaseOwner(owner: DatabaseOwner): ITerraformDependable[] {
    validateOwnerName("CloudNativePostgres database owner", owner.name);
    const secret = this.basicAuthSecret(`Role-${owner.name}`, `${owner.name.replace(/_/g, "-")}-role`, owner.name, owner.password);
    this.cluster.spec.managed.roles.push({ name: owner.name, ensure: "present", login: true, passwordSecret: { name: secret.metadata.name } });
    // Before the default "host all all all scram-sha-256": the role logs in over TLS to its database and nowhere else.
    this.cluster.spec.postgresql.pg_hba.push(`hostssl ${owner.name} ${owner.name} all scram-sha-256`, `host all ${owner.name} all reject`);
    this.bundle.add({
      apiVersion: "postgresql.cnpg.io/v1",
      kind: "Database",
      metadata: { name: owner.name.replace(/_/g, "-"), namespace: this.namespace },
      spec: { name: owner.name, owner: owner.name, cluster: { name: this.name } },
    });
    this.bundle.dependOn(secret);
    return [this.bundle.release];
  }

  private basicAuthSecret(id: string, name: string, username: string, password: string): SecretV1 {
    return new SecretV1(this, id, {
      metadata: { name, namespace: this.namespace },
      type: "kubernetes.io/basic-auth",
      data: { username, password },
      dependsOn: this.namespaceReady,
    });
  }
}

interface ClusterSpec {
  managed: { roles: Record<string, unknown>[] };
  postgresql: { pg_hba: string[] };
  [key: string]: unknown;
}
