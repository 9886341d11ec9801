/**
 * What the database constructs (RdsPostgres, CloudNativePostgres) offer their clients: where the server is, how
 * clients verify it (libpq sslmode, and the CA bundle mounted from a ConfigMap for verify-full), and a way to give a
 * consumer its own login role owning its own database.
 */
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { NetworkPeer } from "./network-peer";
import type { VolumeMountSpec } from "./workload";

/** How clients check the server: `verify-full` against `caBundle`, or `require` (encrypted, unchecked). */
export interface PostgresTrust {
  readonly sslmode: "verify-full" | "require";
  /** PEM of the CAs that sign the server's certificate; required with verify-full. */
  readonly caBundle?: string;
}

/** Where every client finds the CA bundle: a ConfigMap in its namespace, mounted read-only at `mountDir`. */
export const POSTGRES_CA = { configMapName: "postgres-ca", key: "ca.pem", mountDir: "/etc/modelport/postgres-ca" } as const;

/** The ConfigMap a workload mounts to verify the server (absent when the server is not verified). */
export interface PostgresCaMount {
  readonly configMapName: string;
  readonly key: string;
  readonly mountDir: string;
}

/** A login role that owns one database and nothing else. */
export interface DatabaseOwner {
  /** Role and database name (`[a-z_][a-z0-9_]*`). */
  readonly name: string;
  /** Generated password (a Terraform reference). */
  readonly password: string;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** What a client's NetworkPolicy egress must allow. */
  readonly peer: NetworkPeer;
  readonly trust: PostgresTrust;
  /** Namespace the server's own Kubernetes objects live in. */
  readonly namespace: string;
  /** What must exist before anything connects. */
  readonly ready: ITerraformDependable[];
  /**
   * Creates (idempotently) a login role owning a database of the same name, which it alone may connect to; returns
   * what must exist before the role can log in.
   */
  addDatabaseOwner(owner: DatabaseOwner): ITerraformDependable[];
}

/** libpq URL query parameters for a server's trust (the CA path is where POSTGRES_CA mounts it). */
export function tlsQuery(trust: PostgresTrust): string {
  if (trust.sslmode === "require") return "sslmode=require";
  return `sslmode=verify-full&sslrootcert=${POSTGRES_CA.mountDir}/${POSTGRES_CA.key}`;
}

/** `postgresql://user:password@host:port/database?sslmode=...`. */
export function postgresUrl(server: PostgresServer, login: { user: string; password: string; database: string }): string {
  return `postgresql://${login.user}:${login.password}@${server.host}:${server.port}/${login.database}?${tlsQuery(server.trust)}`;
}

/** Throws unless a verify-full trust carries a CA bundle with at least one PEM certificate. */
export function validateTrust(what: string, trust: PostgresTrust): void {
  if (trust.sslmode === "verify-full" && !trust.caBundle?.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error(`${what}: sslmode verify-full needs caBundle, the PEM of the CAs that sign the server's certificate`);
  }
}

/** The CA bundle as a ConfigMap in a client namespace, or undefined when clients do not verify. */
export function postgresCaConfigMap(
  scope: Construct,
  id: string,
  namespace: string,
  trust: PostgresTrust,
  dependsOn: ITerraformDependable[] = [],
): ConfigMapV1 | undefined {
  if (trust.sslmode !== "verify-full") return undefined;
  return new ConfigMapV1(scope, id, {
    metadata: { name: POSTGRES_CA.configMapName, namespace, labels: { "app.kubernetes.io/part-of": "modelport" } },
    data: { [POSTGRES_CA.key]: trust.caBundle! },
    dependsOn,
  });
}

/** The CA mount a workload needs for a trust (what PlatformEndpoints hands to model stacks). */
export function postgresCaMount(trust: PostgresTrust): PostgresCaMount | undefined {
  return trust.sslmode === "verify-full" ? { ...POSTGRES_CA } : undefined;
}

/** The read-only volume mount of a CA ConfigMap, for hardenedPodSpec. */
export function caVolumeMount(ca: PostgresCaMount): VolumeMountSpec {
  return { volume: { name: "postgres-ca", configMap: { name: ca.configMapName } }, mountPath: ca.mountDir, readOnly: true };
}
