import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Lazy } from "cdktf";
import { Construct } from "constructs";

/** What a cluster offers for IAM Roles for Service Accounts (EKS only). */
export interface IrsaConfig {
  /** ARN of the cluster's IAM OIDC provider. */
  readonly oidcProviderArn: string;
  /** Issuer host and path, without `https://` (the prefix of the `:sub` and `:aud` condition keys). */
  readonly oidcIssuer: string;
}

/** One IAM policy statement. */
export interface PolicyStatement {
  readonly effect?: "Allow" | "Deny";
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** IAM condition block, e.g. `{ StringLike: { "s3:prefix": ["reports/*"] } }`. @default none */
  readonly conditions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface IrsaRoleProps {
  readonly irsa: IrsaConfig;
  /** IAM role name. */
  readonly roleName: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Inline permissions; more are added with `addToPolicy` (what `grant*` helpers call). @default none */
  readonly statements?: readonly PolicyStatement[];
}

/**
 * An IAM role that exactly one Kubernetes service account can assume through the cluster's OIDC provider:
 * the trust policy pins both `sub` (namespace and name) and `aud`, so no other pod can borrow it. Its inline policy
 * is rendered at synth from every statement added, so grants made after construction land in it.
 */
export class IrsaRole extends Construct {
  readonly role: IamRole;
  /** Annotation to put on the ServiceAccount. */
  readonly annotations: Record<string, string>;
  private readonly roleName: string;
  private readonly statements: PolicyStatement[] = [];
  private policy?: IamRolePolicy;

  constructor(scope: Construct, id: string, props: IrsaRoleProps) {
    super(scope, id);
    this.roleName = props.roleName;
    const issuer = props.irsa.oidcIssuer;
    this.role = new IamRole(this, "Resource", {
      name: props.roleName,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: props.irsa.oidcProviderArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${issuer}:sub`]: `system:serviceaccount:${props.namespace}:${props.serviceAccount}`,
                [`${issuer}:aud`]: "sts.amazonaws.com",
              },
            },
          },
        ],
      }),
    });
    for (const s of props.statements ?? []) this.addToPolicy(s);
    this.annotations = { "eks.amazonaws.com/role-arn": this.role.arn };
  }

  /** Adds a statement to the role's inline policy (validated: no wildcard actions, at least one action and resource). */
  addToPolicy(statement: PolicyStatement): void {
    if (statement.actions.length === 0 || statement.resources.length === 0) {
      throw new Error(`IrsaRole ${this.roleName}: every statement needs at least one action and one resource`);
    }
    if (statement.actions.some((a) => a === "*" || a.endsWith(":*"))) {
      throw new Error(`IrsaRole ${this.roleName}: wildcard actions (${statement.actions.join(", ")}) are not least privilege; list them`);
    }
    this.statements.push(statement);
    this.policy ??= new IamRolePolicy(this, "Policy", {
      role: this.role.name,
      name: `${this.roleName}-policy`,
      policy: Lazy.stringValue({ produce: () => this.policyDocument() }),
    });
  }

  private policyDocument(): string {
    return JSON.stringify({
      Version: "2012-10-17",
      Statement: this.statements.map((s) => ({
        Effect: s.effect ?? "Allow",
        Action: s.actions,
        Resource: s.resources,
        ...(s.conditions && { Condition: s.conditions }),
      })),
    });
  }
}
