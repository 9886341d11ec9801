import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";
import { validateDnsLabel } from "./kube";

/** GitHub Actions' OIDC issuer (host only: the prefix of the `:sub` and `:aud` condition keys). */
export const GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com";
/** The audience aws-actions/configure-aws-credentials requests. */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

export interface CiRolesProps {
  /** GitHub repository whose workflows may assume the roles, "owner/name". */
  readonly repository: string;
  /** The environment: the GitHub environment the apply role trusts, and the name in the role names. */
  readonly environment: string;
  /** The environment's Terraform state bucket (one key per stack, S3-native `.tflock` lock files). */
  readonly stateBucket: string;
  /** Other environments' state buckets in the same AWS account: both roles are denied every access to them. @default none */
  readonly otherStateBuckets?: readonly string[];
  /** Prefix of the IAM names the environment's stacks create; the apply role manages only those. @default `modelport-<environment>` */
  readonly resourcePrefix?: string;
  /** ARN of the account's existing GitHub OIDC provider (IAM allows one per URL and account). @default a new provider */
  readonly oidcProviderArn?: string;
  /** Branch whose workflows (the scheduled drift plans) may assume the plan role. @default "main" */
  readonly defaultBranch?: string;
  /** Longest session of either role, in seconds (a plan or apply of the largest stack must fit). @default 3600 */
  readonly maxSessionSeconds?: number;
}

const REPOSITORY = /^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/;
const aws = (name: string) => `arn:aws:iam::aws:policy/${name}`;

/**
 * AWS access for CI through GitHub's OIDC tokens, never a long-lived key: a read-only plan role that pull
 * requests (and the default branch's scheduled drift runs) of one repository may assume, and an apply role
 * that only jobs running in the GitHub environment named `environment` may assume (protect it with required
 * reviewers). Both reach exactly this environment's state bucket; the apply role manages IAM only under the
 * environment's prefix and can never change the CI roles themselves.
 */
export class CiRoles extends Construct {
  /** Role names under a prefix, so a stack that only knows the environment (EKS access entries) can name them. */
  static roleNames(prefix: string): { readonly plan: string; readonly apply: string } {
    return { plan: `${prefix}-ci-plan`, apply: `${prefix}-ci-apply` };
  }

  readonly planRole: IamRole;
  readonly applyRole: IamRole;
  readonly oidcProviderArn: string;

  constructor(scope: Construct, id: string, props: CiRolesProps) {
    super(scope, id);
    if (!REPOSITORY.test(props.repository)) throw new Error(`CiRoles repository "${props.repository}" must be "owner/name" as GitHub spells it`);
    validateDnsLabel("CiRoles environment", props.environment, 40);
    const branch = props.defaultBranch ?? "main";
    if (!/^[A-Za-z0-9._/-]+$/.test(branch)) throw new Error(`CiRoles defaultBranch "${branch}" is not a branch name`);
    const session = props.maxSessionSeconds ?? 3600;
    if (!Number.isInteger(session) || session < 3600 || session > 43200) {
      throw new Error(`CiRoles maxSessionSeconds must be an integer from 3600 to 43200 (IAM's range), got ${session}`);
    }
    const prefix = props.resourcePrefix ?? `modelport-${props.environment}`;
    if ((props.otherStateBuckets ?? []).includes(props.stateBucket)) {
      throw new Error(`CiRoles otherStateBuckets must not include the environment's own bucket ${props.stateBucket}`);
    }

    this.oidcProviderArn =
      props.oidcProviderArn ??
      new IamOpenidConnectProvider(this, "GithubOidc", { url: `https://${GITHUB_OIDC_ISSUER}`, clientIdList: [GITHUB_OIDC_AUDIENCE] }).arn;
    const repo = `repo:${props.repository}`;
    const trust = (subjects: string[]) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: this.oidcProviderArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            // Exact subjects (StringEquals): no wildcard lets another repository, branch or environment in.
            Condition: { StringEquals: { [`${GITHUB_OIDC_ISSUER}:aud`]: GITHUB_OIDC_AUDIENCE, [`${GITHUB_OIDC_ISSUER}:sub`]: subjects } },
          },
        ],
      });
    const bucket = `arn:aws:s3:::${props.stateBucket}`;
    const denyOthers = (props.otherStateBuckets ?? []).length
      ? [{ Effect: "Deny", Action: "s3:*", Resource: props.otherStateBuckets!.flatMap((b) => [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`]) }]
      : [];

    this.planRole = new IamRole(this, "PlanRole", {
      name: CiRoles.roleNames(prefix).plan,
      description: `terraform plan for ${props.repository} pull requests and ${branch} drift runs (read-only)`,
      maxSessionDuration: session,
      assumeRolePolicy: trust([`${repo}:pull_request`, `${repo}:ref:refs/heads/${branch}`]),
    });
    new IamRolePolicyAttachment(this, "PlanReadOnly", { role: this.planRole.name, policyArn: aws("ReadOnlyAccess") });
    policy(this, "PlanPolicy", this.planRole, [
      { Sid: "ReadState", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucket] },
      { Sid: "ReadStateObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${bucket}/*`] },
      // terraform plan takes the S3-native lock: it writes and removes <key>.tflock, nothing else.
      { Sid: "Lock", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: [`${bucket}/*.tflock`] },
      // Refreshing a secret version reads its value (the state holds it too); only this environment's secrets.
      { Sid: "ReadEnvironmentSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [`arn:aws:secretsmanager:*:*:secret:${prefix}/*`] },
      // ReadOnlyAccess reads every object in the account: a plan needs no object but its own state.
      { Sid: "NoOtherObjects", Effect: "Deny", Action: ["s3:GetObject", "s3:GetObjectVersion"], NotResource: [`${bucket}/*`] },
      ...denyOthers,
    ]);

    this.applyRole = new IamRole(this, "ApplyRole", {
      name: CiRoles.roleNames(prefix).apply,
      description: `terraform apply for ${props.repository} jobs in the GitHub environment ${props.environment}`,
      maxSessionDuration: session,
      assumeRolePolicy: trust([`${repo}:environment:${props.environment}`]),
    });
    // Everything but IAM, Organizations and account settings; IAM follows, limited to the environment's names.
    new IamRolePolicyAttachment(this, "ApplyPowerUser", { role: this.applyRole.name, policyArn: aws("PowerUserAccess") });
    const owned = ["role", "policy", "instance-profile"].map((kind) => `arn:aws:iam::*:${kind}/${prefix}-*`);
    policy(this, "ApplyPolicy", this.applyRole, [
      { Sid: "State", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucket] },
      { Sid: "StateObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: [`${bucket}/*`] },
      { Sid: "Unlock", Effect: "Allow", Action: ["s3:DeleteObject"], Resource: [`${bucket}/*.tflock`] },
      { Sid: "EnvironmentIam", Effect: "Allow", Action: IAM_MANAGE, Resource: [...owned, "arn:aws:iam::*:oidc-provider/oidc.eks.*"] },
      { Sid: "PassEnvironmentRoles", Effect: "Allow", Action: ["iam:PassRole"], Resource: [`arn:aws:iam::*:role/${prefix}-*`] },
      { Sid: "ServiceLinkedRoles", Effect: "Allow", Action: ["iam:CreateServiceLinkedRole"], Resource: ["arn:aws:iam::*:role/aws-service-role/*"] },
      // PowerUserAccess could delete state or loosen the bucket: state keys and the bucket's settings stay as bootstrapped.
      { Sid: "KeepState", Effect: "Deny", Action: ["s3:DeleteObject"], Resource: [`${bucket}/*terraform.tfstate`] },
      {
        Sid: "KeepStateBucket",
        Effect: "Deny",
        Action: ["s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketPolicy", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration", "s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration"],
        Resource: [bucket, `${bucket}/*`],
      },
      // The CI roles are bootstrapped by an administrator: CI can never widen its own trust or permissions.
      { Sid: "NotTheCiRoles", Effect: "Deny", Action: ["iam:*"], Resource: [`arn:aws:iam::*:role/${prefix}-ci-*`] },
      ...denyOthers,
    ]);
  }
}

/** IAM actions Terraform needs to create, change and delete roles, policies, instance profiles and EKS OIDC providers. */
const IAM_MANAGE = [
  "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
  "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
  "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
  "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:TagPolicy",
  "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:GetInstanceProfile",
  "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
  "iam:AddClientIDToOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
];

function policy(scope: Construct, id: string, role: IamRole, statements: Record<string, unknown>[]): IamRolePolicy {
  return new IamRolePolicy(scope, id, { role: role.name, name: `${id[0].toLowerCase()}${id.slice(1)}`, policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }) });
}
