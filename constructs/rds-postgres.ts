import { DbInstance } from "@cdktf/provider-aws/lib/db-instance";
import { DbSubnetGroup } from "@cdktf/provider-aws/lib/db-subnet-group";
import { SecretsmanagerSecret } from "@cdktf/provider-aws/lib/secretsmanager-secret";
import { SecretsmanagerSecretVersion } from "@cdktf/provider-aws/lib/secretsmanager-secret-version";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { Fn, ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { appLabels, validateDnsLabel } from "./kube";
import { NetworkPeer } from "./network-peer";
import { caVolumeMount, DatabaseOwner, postgresCaConfigMap, postgresCaMount, postgresUrl, PostgresServer, PostgresTrust } from "./postgres-server";
import { DATABASE_OWNER_SQL, validateOwnerName } from "./database-owner-sql";
import { rdsCaBundle } from "./rds-ca";
import { IMAGES } from "./versions";
import { hardenedPodSpec } from "./workload";

export interface RdsPostgresProps {
  /** Prefix of AWS resource names (the environment). */
  readonly namePrefix: string;
  readonly region: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  /** Network range of the clients (the cluster's VPC); more with `allowFrom`. */
  readonly clientCidr: string;
  /** Namespace of the Kubernetes objects the construct creates (admin Secret, CA, role bootstrap Jobs). */
  readonly namespace: string;
  /** Resources that create `namespace`. @default none */
  readonly namespaceReady?: ITerraformDependable[];
  /** The database created with the instance, owned by the master user. */
  readonly databaseName: string;
  /** Master user name. */
  readonly masterUser: string;
  /** @default "db.t4g.medium" */
  readonly instanceClass?: string;
  /** @default 50 */
  readonly allocatedStorageGb?: number;
  /** @default false */
  readonly multiAz?: boolean;
  /** Major version. @default "17" */
  readonly engineVersion?: string;
  /** @default true */
  readonly deletionProtection?: boolean;
}

const PG_PORT = 5432;
/** The CA RDS signs this instance's certificate with (its root is in constructs/certs/rds/<region>.pem). */
export const RDS_CA_IDENTIFIER = "rds-ca-rsa2048-g1";
/** Secret (in `namespace`) holding the master URL, for MLflow and the role bootstrap Jobs. */
export const RDS_ADMIN_SECRET = { name: "postgres-admin", key: "url" } as const;
const OWNER_SQL_CONFIG_MAP = "postgres-database-owner-sql";

/**
 * Amazon RDS for PostgreSQL in private subnets: encrypted, TLS-only (RDS for PostgreSQL 15+ forces it), its
 * certificate from a pinned CA whose bundle clients mount to verify it (sslmode=verify-full), the generated master
 * password in Secrets Manager. Reachable only from what `allowFrom` admits. `addDatabaseOwner` gives a consumer its own
 * role and database through an idempotent psql Job, since RDS has no API for roles.
 */
export class RdsPostgres extends Construct implements PostgresServer {
  readonly host: string;
  readonly port = PG_PORT;
  readonly peer: NetworkPeer;
  readonly trust: PostgresTrust;
  readonly namespace: string;
  readonly ready: ITerraformDependable[];
  readonly instance: DbInstance;
  /** The master URL (a Terraform reference to the generated password). */
  readonly masterUrl: string;
  private readonly securityGroup: SecurityGroup;
  private readonly adminSecret: SecretV1;
  private readonly caConfigMap: ConfigMapV1;
  private readonly bootstrapSql: ConfigMapV1;
  private allowed = 0;

  constructor(scope: Construct, id: string, props: RdsPostgresProps) {
    super(scope, id);
    const storage = props.allocatedStorageGb ?? 50;
    if (!Number.isInteger(storage) || storage < 20) throw new Error(`RdsPostgres allocatedStorageGb must be an integer >= 20, got ${storage}`);
    validateOwnerName("RdsPostgres databaseName", props.databaseName);
    validateDnsLabel("RdsPostgres namespace", props.namespace);
    this.namespace = props.namespace;
    this.trust = { sslmode: "verify-full", caBundle: rdsCaBundle(props.region) };
    const nsReady = props.namespaceReady ?? [];
    const prefix = props.namePrefix;

    const password = new Password(this, "MasterPassword", { length: 32, special: false });
    const subnets = new DbSubnetGroup(this, "Subnets", { name: `${prefix}-mlflow`, subnetIds: props.subnetIds });
    this.securityGroup = new SecurityGroup(this, "SecurityGroup", {
      name: `${prefix}-mlflow-db`,
      vpcId: props.vpcId,
      description: "PostgreSQL for MLflow and the prediction log; ingress only from what allowFrom admits",
    });
    this.instance = new DbInstance(this, "Resource", {
      identifier: `${prefix}-mlflow`,
      engine: "postgres",
      engineVersion: props.engineVersion ?? "17",
      instanceClass: props.instanceClass ?? "db.t4g.medium",
      allocatedStorage: storage,
      maxAllocatedStorage: storage * 4,
      storageType: "gp3",
      storageEncrypted: true,
      caCertIdentifier: RDS_CA_IDENTIFIER,
      dbName: props.databaseName,
      username: props.masterUser,
      password: password.result,
      dbSubnetGroupName: subnets.name,
      vpcSecurityGroupIds: [this.securityGroup.id],
      publiclyAccessible: false,
      multiAz: props.multiAz ?? false,
      backupRetentionPeriod: 7,
      deletionProtection: props.deletionProtection ?? true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: `${prefix}-mlflow-final`,
      autoMinorVersionUpgrade: true,
    });
    this.host = this.instance.address;
    this.peer = { cidr: props.clientCidr, port: PG_PORT };
    this.allowFrom({ cidr: props.clientCidr, description: "the cluster's VPC" });
    this.ready = [this.instance];

    // The generated master credentials, kept in Secrets Manager for operators and rotation tooling.
    const secret = new SecretsmanagerSecret(this, "MasterCredentials", {
      name: `${prefix}/mlflow/database`,
      description: "RDS master credentials for MLflow's database (generated by cdktf)",
    });
    new SecretsmanagerSecretVersion(this, "MasterCredentialsValue", {
      secretId: secret.id,
      secretString: Fn.jsonencode({ username: props.masterUser, password: password.result, host: this.host, port: PG_PORT, dbname: props.databaseName }),
    });
    this.masterUrl = postgresUrl(this, { user: props.masterUser, password: password.result, database: props.databaseName });
    this.adminSecret = new SecretV1(this, "AdminSecret", {
      metadata: { name: RDS_ADMIN_SECRET.name, namespace: this.namespace },
      data: { [RDS_ADMIN_SECRET.key]: this.masterUrl },
      dependsOn: nsReady,
    });
    this.caConfigMap = postgresCaConfigMap(this, "CaBundle", this.namespace, this.trust, nsReady)!;
    this.bootstrapSql = new ConfigMapV1(this, "OwnerSql", {
      metadata: { name: OWNER_SQL_CONFIG_MAP, namespace: this.namespace },
      data: { "owner.sql": DATABASE_OWNER_SQL },
      dependsOn: nsReady,
    });
  }

  /** Admits a network range (the cluster's VPC) to port 5432. */
  allowFrom(peer: { readonly cidr: string; readonly description?: string }): void {
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(peer.cidr)) throw new Error(`RdsPostgres allowFrom: "${peer.cidr}" is not an IPv4 CIDR`);
    new VpcSecurityGroupIngressRule(this, `AllowFrom${this.allowed++}`, {
      securityGroupId: this.securityGroup.id,
      cidrIpv4: peer.cidr,
      ipProtocol: "tcp",
      fromPort: PG_PORT,
      toPort: PG_PORT,
      description: peer.description ?? "PostgreSQL clients",
    });
  }

  addDatabaseOwner(owner: DatabaseOwner): ITerraformDependable[] {
    validateOwnerName("RdsPostgres database owner", owner.name);
    const k8sName = owner.name.replace(/_/g, "-");
    const passwordSecret = `${k8sName}-password`;
    const password = new SecretV1(this, `OwnerPassword-${owner.name}`, {
      metadata: { name: passwordSecret, namespace: this.namespace },
      data: { password: owner.password },
      dependsOn: [this.adminSecret],
    });
    const job = new JobV1(this, `Owner-${owner.name}`, {
      metadata: { name: `create-${k8sName}`.slice(0, 63), namespace: this.namespace },
      waitForCompletion: true,
      spec: {
        backoffLimit: 6,
        ttlSecondsAfterFinished: "600",
        template: {
          metadata: { labels: appLabels(`create-${k8sName}`.slice(0, 63), "database-bootstrap") },
          spec: hardenedPodSpec("batch", {
            runAsUser: 26,
            containers: [
              {
                name: "psql",
                image: IMAGES.postgres,
                command: ["psql", "-v", "ON_ERROR_STOP=1", "-v", `owner=${owner.name}`, "-f", "/sql/owner.sql", "$(ADMIN_URL)"],
                env: [
                  { name: "ADMIN_URL", valueFrom: { secretKeyRef: { name: RDS_ADMIN_SECRET.name, key: RDS_ADMIN_SECRET.key } } },
                  { name: "OWNER_PASSWORD", valueFrom: { secretKeyRef: { name: passwordSecret, key: "password" } } },
                ],
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                mounts: [
                  { volume: { name: "sql", configMap: { name: OWNER_SQL_CONFIG_MAP } }, mountPath: "/sql" },
                  caVolumeMount(postgresCaMount(this.trust)!),
                ],
              },
            ],
          }),
        },
      },
      dependsOn: [...this.ready, this.adminSecret, password, this.caConfigMap, this.bootstrapSql],
    });
    return [job];
  }
}
