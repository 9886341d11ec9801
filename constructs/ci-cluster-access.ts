import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { Construct } from "constructs";

export interface CiClusterAccessProps {
  readonly clusterName: string;
  /** The CI plan role (CiRoles.planRole): reads every object, Secrets included (Helm keeps release state in them). */
  readonly planRoleArn: string;
  /** The CI apply role (CiRoles.applyRole): cluster admin. */
  readonly applyRoleArn: string;
}

const POLICY = (name: string) => `arn:aws:eks::aws:cluster-access-policy/${name}`;

/**
 * EKS access entries for the CI roles (the cluster uses API authentication, no aws-auth ConfigMap): the plan
 * role gets AmazonEKSAdminViewPolicy (read-only, Secrets included: the Helm provider reads release state from
 * them), the apply role AmazonEKSClusterAdminPolicy. The roles must exist first (the `ci-<env>` stack).
 */
export class CiClusterAccess extends Construct {
  constructor(scope: Construct, id: string, props: CiClusterAccessProps) {
    super(scope, id);
    const grant = (name: string, principalArn: string, policy: string) => {
      const entry = new EksAccessEntry(this, `${name}Entry`, { clusterName: props.clusterName, principalArn, type: "STANDARD" });
      new EksAccessPolicyAssociation(this, `${name}Policy`, {
        clusterName: props.clusterName,
        principalArn,
        policyArn: POLICY(policy),
        accessScope: { type: "cluster" },
        dependsOn: [entry],
      });
    };
    grant("Plan", props.planRoleArn, "AmazonEKSAdminViewPolicy");
    grant("Apply", props.applyRoleArn, "AmazonEKSClusterAdminPolicy");
  }
}
