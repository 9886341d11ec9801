/**
 * CiRoles: GitHub OIDC trust pinned to exact subjects, and what each role can and cannot do, checked by
 * evaluating the synthesized policies the way IAM does (explicit Deny wins, then Allow, else denied; `*` and
 * `?` wildcards; NotAction/NotResource), with the two AWS managed policies modelled from their published
 * documents. No IAM user or access key exists in any synthesized stack.
 */
import "cdktf/lib/testing/adapters/jest";
import { App, TerraformStack, Testing } from "cdktf";
import { CiClusterAccess } from "../../constructs/ci-cluster-access";
import { CiRoles, type CiRolesProps } from "../../constructs/ci-roles";
import { buildStacks, ENVIRONMENTS } from "../../stacks";
import { Json, synth } from "./support/harness";

const props: CiRolesProps = {
  repository: "modelport/modelport",
  environment: "staging",
  stateBucket: "modelport-tfstate-staging",
  otherStateBuckets: ["modelport-tfstate-prod"],
};

interface Statement {
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
}

/** AWS managed policies, as published (PowerUserAccess verbatim; ReadOnlyAccess reduced to the families used here). */
const MANAGED: Record<string, Statement[]> = {
  "arn:aws:iam::aws:policy/PowerUserAccess": [
    { Effect: "Allow", NotAction: ["iam:*", "organizations:*", "account:*"], Resource: "*" },
    { Effect: "Allow", Action: ["account:GetAccountInformation", "account:ListRegions", "iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles", "organizations:DescribeOrganization"], Resource: "*" },
  ],
  "arn:aws:iam::aws:policy/ReadOnlyAccess": [
    { Effect: "Allow", Action: ["s3:Get*", "s3:List*", "iam:Get*", "iam:List*", "ec2:Describe*", "eks:Describe*", "eks:List*", "rds:Describe*", "secretsmanager:Describe*", "secretsmanager:List*"], Resource: "*" },
  ],
};

const list = (x: string | string[] | undefined) => (x === undefined ? undefined : Array.isArray(x) ? x : [x]);
const glob = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i").test(value);
const matches = (s: Statement, action: string, resource: string) => {
  const actionOk = s.Action ? list(s.Action)!.some((a) => glob(a, action)) : !list(s.NotAction)!.some((a) => glob(a, action));
  const resourceOk = s.Resource ? list(s.Resource)!.some((r) => glob(r, resource)) : !list(s.NotResource)!.some((r) => glob(r, resource));
  return actionOk && resourceOk;
};

function roleStatements(out: ReturnType<typeof synth>, roleId: string): Statement[] {
  const ref = (r: Json) => String(r.role).includes(roleId);
  const inline = out.resources("aws_iam_role_policy").filter(ref).flatMap((p) => JSON.parse(p.policy).Statement as Statement[]);
  const managed = out.resources("aws_iam_role_policy_attachment").filter(ref).flatMap((a) => MANAGED[a.policy_arn] ?? []);
  return [...inline, ...managed];
}

function can(statements: Statement[], action: string, resource: string): boolean {
  if (statements.some((s) => s.Effect === "Deny" && matches(s, action, resource))) return false;
  return statements.some((s) => s.Effect === "Allow" && matches(s, action, resource));
}

describe("CiRoles", () => {
  const out = synth((stack) => new CiRoles(stack, "Ci", props));
  const roles = out.resources("aws_iam_role");
  const plan = roles.find((r) => r.name === "modelport-staging-ci-plan")!;
  const apply = roles.find((r) => r.name === "modelport-staging-ci-apply")!;
  const planCan = (action: string, resource: string) => can(roleStatements(out, "PlanRole"), action, resource);
  const applyCan = (action: string, resource: string) => can(roleStatements(out, "ApplyRole"), action, resource);

  it("creates the GitHub OIDC provider for token.actions.githubusercontent.com with audience sts.amazonaws.com", () => {
    expect(out.resources("aws_iam_openid_connect_provider")).toEqual([
      expect.objectContaining({ url: "https://token.actions.githubusercontent.com", client_id_list: ["sts.amazonaws.com"] }),
    ]);
  });

  it("trusts exact subjects: pull requests and the default branch for plan, the GitHub environment for apply", () => {
    const condition = (role: Json) => JSON.parse(role.assume_role_policy).Statement[0];
    expect(condition(plan)).toMatchObject({
      Action: "sts:AssumeRoleWithWebIdentity",
      Principal: { Federated: expect.stringMatching(/aws_iam_openid_connect_provider\..*\.arn/) },
      Condition: {
        StringEquals: {
          "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
          "token.actions.githubusercontent.com:sub": ["repo:modelport/modelport:pull_request", "repo:modelport/modelport:ref:refs/heads/main"],
        },
      },
    });
    expect(condition(apply).Condition).toEqual({
      StringEquals: { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:sub": ["repo:modelport/modelport:environment:staging"] },
    });
    expect(JSON.stringify(roles.map((r) => r.assume_role_policy))).not.toMatch(/StringLike|\*/);
  });

  it("plan role: reads its environment's state and takes the lock, writes nothing else", () => {
    expect(planCan("s3:GetObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate")).toBe(true);
    expect(planCan("s3:ListBucket", "arn:aws:s3:::modelport-tfstate-staging")).toBe(true);
    expect(planCan("s3:PutObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate.tflock")).toBe(true);
    expect(planCan("s3:PutObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate")).toBe(false);
    expect(planCan("s3:GetObject", "arn:aws:s3:::modelport-tfstate-prod/platform-prod/terraform.tfstate")).toBe(false);
    expect(planCan("s3:GetObject", "arn:aws:s3:::modelport-staging-artifacts/model.onnx")).toBe(false);
    expect(planCan("eks:DescribeCluster", "arn:aws:eks:eu-west-1:1:cluster/modelport-staging")).toBe(true);
    expect(planCan("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:1:secret:modelport-staging/mlflow/database-AbCdEf")).toBe(true);
    expect(planCan("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:1:secret:modelport-prod/mlflow/database-AbCdEf")).toBe(false);
    expect(planCan("ec2:RunInstances", "*")).toBe(false);
    expect(planCan("iam:UpdateAssumeRolePolicy", "arn:aws:iam::1:role/modelport-staging-ci-plan")).toBe(false);
  });

  it("apply role: its environment's state and resources; IAM only under its prefix; never the CI roles or another environment", () => {
    expect(applyCan("s3:PutObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate")).toBe(true);
    expect(applyCan("s3:DeleteObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate.tflock")).toBe(true);
    expect(applyCan("s3:DeleteObject", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate")).toBe(false);
    expect(applyCan("s3:DeleteObjectVersion", "arn:aws:s3:::modelport-tfstate-staging/platform-staging/terraform.tfstate")).toBe(false);
    expect(applyCan("s3:PutBucketVersioning", "arn:aws:s3:::modelport-tfstate-staging")).toBe(false);
    expect(applyCan("s3:GetObject", "arn:aws:s3:::modelport-tfstate-prod/platform-prod/terraform.tfstate")).toBe(false);
    expect(applyCan("s3:PutBucketVersioning", "arn:aws:s3:::modelport-staging-artifacts")).toBe(true);
    expect(applyCan("eks:CreateCluster", "*")).toBe(true);
    expect(applyCan("iam:CreateRole", "arn:aws:iam::1:role/modelport-staging-flight-delay-stable")).toBe(true);
    expect(applyCan("iam:PassRole", "arn:aws:iam::1:role/modelport-staging-node")).toBe(true);
    expect(applyCan("iam:CreateOpenIDConnectProvider", "arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC")).toBe(true);
    expect(applyCan("iam:CreateRole", "arn:aws:iam::1:role/admin")).toBe(false);
    expect(applyCan("iam:CreateUser", "arn:aws:iam::1:user/ci")).toBe(false);
    expect(applyCan("iam:CreateAccessKey", "arn:aws:iam::1:user/ci")).toBe(false);
    expect(applyCan("iam:UpdateAssumeRolePolicy", "arn:aws:iam::1:role/modelport-staging-ci-apply")).toBe(false);
    expect(applyCan("iam:PutRolePolicy", "arn:aws:iam::1:role/modelport-staging-ci-plan")).toBe(false);
    expect(applyCan("iam:CreateRole", "arn:aws:iam::1:role/modelport-prod-node")).toBe(false);
  });

  it("reuses an existing OIDC provider when given one (IAM allows one per URL and account)", () => {
    const existing = synth((stack) => new CiRoles(stack, "Ci", { ...props, oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }));
    expect(existing.resources("aws_iam_openid_connect_provider")).toHaveLength(0);
    expect(JSON.parse(existing.resources("aws_iam_role")[0].assume_role_policy).Statement[0].Principal.Federated).toBe(
      "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    );
  });

  it.each([
    [{ repository: "modelport" }, /repository "modelport" must be "owner\/name"/],
    [{ environment: "Prod!" }, /environment "Prod!"/],
    [{ defaultBranch: "main branch" }, /defaultBranch "main branch"/],
    [{ maxSessionSeconds: 60 }, /maxSessionSeconds must be an integer from 3600 to 43200/],
    [{ otherStateBuckets: ["modelport-tfstate-staging"] }, /must not include the environment's own bucket/],
  ])("rejects %j", (over, message) => {
    expect(() => synth((stack) => new CiRoles(stack, "Ci", { ...props, ...over }))).toThrow(message);
  });
});

describe("CiClusterAccess", () => {
  it("gives the plan role cluster-wide admin view and the apply role cluster admin, as access entries", () => {
    const out = synth((stack) => new CiClusterAccess(stack, "Access", { clusterName: "modelport-staging", planRoleArn: "arn:aws:iam::1:role/p", applyRoleArn: "arn:aws:iam::1:role/a" }));
    expect(out.resources("aws_eks_access_entry").map((e) => [e.principal_arn, e.type]).sort()).toEqual([["arn:aws:iam::1:role/a", "STANDARD"], ["arn:aws:iam::1:role/p", "STANDARD"]]);
    expect(out.resources("aws_eks_access_policy_association").map((a) => [a.principal_arn, a.policy_arn, a.access_scope.type]).sort()).toEqual([
      ["arn:aws:iam::1:role/a", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "cluster"],
      ["arn:aws:iam::1:role/p", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy", "cluster"],
    ]);
  });
});

describe("the synthesized stacks", () => {
  const app = Testing.app();
  buildStacks(app as App, Object.values(ENVIRONMENTS));
  const stacks = app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack).map((s) => [s.node.id, JSON.parse(Testing.synth(s, true))] as const);

  it("hold no IAM user or access key anywhere, and output the CI role ARNs of each CI environment", () => {
    for (const [, json] of stacks) {
      expect(Object.keys(json.resource ?? {}).filter((type) => /aws_iam_(user|access_key)/.test(type))).toEqual([]);
    }
    const ci = Object.fromEntries(stacks.filter(([name]) => name.startsWith("ci-")));
    expect(Object.keys(ci).sort()).toEqual(["ci-prod", "ci-staging"]);
    expect(Object.keys(ci["ci-prod"].output)).toEqual(expect.arrayContaining(["PlanRoleArn", "ApplyRoleArn", "OidcProviderArn"]));
    const platform = Object.fromEntries(stacks)["platform-prod"];
    expect(Object.values<Json>(platform.resource.aws_eks_access_entry).map((e) => e.principal_arn).sort()).toEqual([
      "arn:aws:iam::${data.aws_caller_identity.Account.account_id}:role/modelport-prod-ci-apply",
      "arn:aws:iam::${data.aws_caller_identity.Account.account_id}:role/modelport-prod-ci-plan",
    ]);
  });
});
