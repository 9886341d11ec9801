import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
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
}

export interface IrsaRoleProps {
  readonly irsa: IrsaConfig;
  /** IAM role name. */
  readonly roleName: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Inline permissions. @default none (the role can be assumed but grants nothing) */
  readonly statements?: readonly PolicyStatement[];
}

/**
 * An IAM role that exactly one Kubernetes service account can assume through the cluster's OIDC provider:
 * the trust policy pins both `sub` (namespace and name) and `aud`, so no other pod can borrow it.
 */
export class IrsaRole extends Construct {
  readonly role: IamRole;
  /** Annotation to put on the ServiceAccount. */
  readonly annotations: Record<string, string>;

  constructor(scope: Construct, id: string, props: IrsaRoleProps) {
    super(scope, id);
    for (const s of props.statements ?? []) {
      if (s.actions.length === 0 || s.resources.length === 0) {
        throw new Error(`IrsaRole ${props.roleName}: every statement needs at least one action and one resource`);
      }
      if (s.actions.some((a) => a === "*" || a.endsWith(":*"))) {
        throw new Error(`IrsaRole ${props.roleName}: wildcard actions (${s.actions.join(", ")}) are not least privilege; list them`);
      }
    }
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
    if (props.statements?.length) {
      new IamRolePolicy(this, "Policy", {
        role: this.role.name,
        name: `${props.roleName}-policy`,
        policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: props.statements.map((s) => ({
            Effect: s.effect ?? "Allow",
            Action: s.actions,
            Resource: s.resources,
          })),
        }),
      });
    }
    this.annotations = { "eks.amazonaws.com/role-arn": this.role.arn };
  }
}
