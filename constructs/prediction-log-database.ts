import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { Password } from "@cdktf/provider-random/lib/password";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { validateDnsLabel } from "./kube";
import { PostgresCaMount, postgresCaConfigMap, postgresCaMount, postgresUrl, PostgresServer } from "./postgres-server";

/** Where a namespace's workloads find their prediction-log connection. */
export interface PredictionLogAccess {
  /** Secret in the namespace; key `key` holds the postgresql:// URL (with sslmode and sslrootcert). */
  readonly secretName: string;
  readonly key: string;
  /** The CA ConfigMap to mount where the URL's sslrootcert points (absent when the server is not verified). */
  readonly ca?: PostgresCaMount;
}

/** Names every consumer namespace gets (model stacks derive them from here, without the platform's state). */
export const PREDICTION_LOG_SECRET = { name: "prediction-log", key: "url" } as const;

/** The role (and database) of a namespace's prediction log: `prediction_log_<namespace>`. */
export function predictionLogOwner(namespace: string): string {
  return `prediction_log_${namespace.replace(/-/g, "_")}`;
}

export interface PredictionLogDatabaseProps {
  readonly server: PostgresServer;
}

export interface PredictionLogConsumer {
  readonly namespace: string;
  /** Resources that create the namespace. @default none */
  readonly namespaceReady?: readonly ITerraformDependable[];
}

/**
 * The prediction log's databases: each consumer namespace gets its own login role owning its own database on the
 * server, with a generated password, so the service and drift job of one namespace can read and write their log and
 * nothing else (not MLflow's registry, not another namespace's log). The role owns its tables because the service
 * applies its own migrations and partition maintenance (CREATE/DROP TABLE ... PARTITION OF need ownership).
 */
export class PredictionLogDatabase extends Construct {
  private readonly server: PostgresServer;
  private readonly granted = new Map<string, PredictionLogAccess>();

  constructor(scope: Construct, id: string, props: PredictionLogDatabaseProps) {
    super(scope, id);
    this.server = props.server;
  }

  /** Gives a namespace's workloads insert and read access to their own prediction log (idempotent per namespace). */
  grantReadWrite(consumer: PredictionLogConsumer): PredictionLogAccess {
    const namespace = consumer.namespace;
    validateDnsLabel("PredictionLogDatabase consumer namespace", namespace);
    const known = this.granted.get(namespace);
    if (known) return known;
    const owner = predictionLogOwner(namespace);
    const password = new Password(this, `Password-${namespace}`, { length: 32, special: false });
    this.server.addDatabaseOwner({ name: owner, password: password.result });
    const nsReady = [...(consumer.namespaceReady ?? [])];
    new SecretV1(this, `Secret-${namespace}`, {
      metadata: { name: PREDICTION_LOG_SECRET.name, namespace },
      data: { [PREDICTION_LOG_SECRET.key]: postgresUrl(this.server, { user: owner, password: password.result, database: owner }) },
      dependsOn: nsReady,
    });
    postgresCaConfigMap(this, `Ca-${namespace}`, namespace, this.server.trust, nsReady);
    const access = { secretName: PREDICTION_LOG_SECRET.name, key: PREDICTION_LOG_SECRET.key, ca: postgresCaMount(this.server.trust) };
    this.granted.set(namespace, access);
    return access;
  }
}
