import { S3Backend, TerraformStack } from "cdktf";
import type { EnvironmentConfig } from "./environments";

/**
 * S3 remote state, one bucket per environment and one key per stack, encrypted, with S3-native locking
 * (`use_lockfile`, Terraform >= 1.10; replaces the DynamoDB lock table, which Terraform has deprecated).
 */
export function useRemoteState(stack: TerraformStack, env: EnvironmentConfig, stackName: string): void {
  new S3Backend(stack, { bucket: env.state.bucket, key: `${stackName}/terraform.tfstate`, region: env.state.region, encrypt: true });
  stack.addOverride("terraform.backend.s3.use_lockfile", true);
}
