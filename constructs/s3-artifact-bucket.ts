import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA as S3BucketVersioning } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ArtifactGrantee, ArtifactStore, validateKeyPattern } from "./artifact-store";
import { PolicyStatement } from "./irsa-role";

export interface S3ArtifactBucketProps {
  /** Globally unique bucket name. */
  readonly bucketName: string;
  /** Days a replaced or deleted object version is kept. @default 90 */
  readonly noncurrentVersionDays?: number;
}

/** Grants on a bucket by name, whether or not this stack creates it (model stacks grant on the platform's bucket). */
class S3Grants {
  constructor(
    readonly bucketName: string,
    readonly ready: ITerraformDependable[] = [],
    /** The bucket's ARN: a reference when this stack creates the bucket, so policies wait for it. */
    private readonly arn = `arn:aws:s3:::${bucketName}`,
  ) {}

  grantRead(grantee: ArtifactGrantee, keys = "*"): undefined {
    return this.grant(grantee, keys, [{ actions: ["s3:GetObject"], resources: [this.objects(keys)] }]);
  }

  grantWrite(grantee: ArtifactGrantee, keys = "*"): undefined {
    return this.grant(grantee, keys, [{ actions: ["s3:PutObject"], resources: [this.objects(keys)] }]);
  }

  grantReadWrite(grantee: ArtifactGrantee, keys = "*"): undefined {
    const list: PolicyStatement =
      keys === "*" ? { actions: ["s3:ListBucket"], resources: [this.arn] } : { actions: ["s3:ListBucket"], resources: [this.arn], conditions: { StringLike: { "s3:prefix": [keys] } } };
    return this.grant(grantee, keys, [
      list,
      { actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], resources: [this.objects(keys)] },
    ]);
  }

  private objects(keys: string): string {
    return `${this.arn}/${keys}`;
  }

  private grant(grantee: ArtifactGrantee, keys: string, statements: PolicyStatement[]): undefined {
    validateKeyPattern(`S3 bucket ${this.bucketName}`, keys);
    if (!grantee.role) {
      throw new Error(`S3 bucket ${this.bucketName}: ${grantee.namespace}/${grantee.name} has no IRSA role to grant to (S3 access never uses static keys)`);
    }
    statements.forEach((s) => grantee.role!.addToPolicy(s));
    return undefined;
  }
}

/**
 * A private artifact bucket: public access blocked, owner-enforced, versioned (old versions expire), KMS-encrypted,
 * TLS-only. Access is granted per consumer IRSA role with `grantRead`, `grantWrite` and `grantReadWrite`.
 */
export class S3ArtifactBucket extends Construct implements ArtifactStore {
  readonly bucketName: string;
  readonly bucket: S3Bucket;
  readonly ready: ITerraformDependable[];
  private readonly grants: S3Grants;

  /** Grants on an existing bucket (no resources are created). */
  static fromBucketName(bucketName: string): ArtifactStore {
    return new S3Grants(bucketName);
  }

  constructor(scope: Construct, id: string, props: S3ArtifactBucketProps) {
    super(scope, id);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(props.bucketName)) {
      throw new Error(`S3ArtifactBucket bucketName "${props.bucketName}" must be 3-63 lowercase letters, digits, '.' or '-'`);
    }
    const days = props.noncurrentVersionDays ?? 90;
    if (!Number.isInteger(days) || days < 1) throw new Error(`S3ArtifactBucket noncurrentVersionDays must be a positive integer, got ${days}`);
    this.bucketName = props.bucketName;
    this.bucket = new S3Bucket(this, "Resource", { bucket: props.bucketName, forceDestroy: false });
    const bucket = this.bucket.id;
    new S3BucketPublicAccessBlock(this, "PublicAccessBlock", {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "Ownership", { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketVersioning(this, "Versioning", { bucket, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfiguration(this, "Encryption", {
      bucket,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
    });
    new S3BucketLifecycleConfiguration(this, "Lifecycle", {
      bucket,
      rule: [
        {
          id: "expire-noncurrent-versions",
          status: "Enabled",
          filter: [{ prefix: "" }],
          noncurrentVersionExpiration: [{ noncurrentDays: days }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    new S3BucketPolicy(this, "Policy", {
      bucket,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    });
    this.ready = [this.bucket];
    this.grants = new S3Grants(props.bucketName, this.ready, this.bucket.arn);
  }

  grantRead(grantee: ArtifactGrantee, keys?: string): undefined {
    return this.grants.grantRead(grantee, keys);
  }

  grantWrite(grantee: ArtifactGrantee, keys?: string): undefined {
    return this.grants.grantWrite(grantee, keys);
  }

  grantReadWrite(grantee: ArtifactGrantee, keys?: string): undefined {
    return this.grants.grantReadWrite(grantee, keys);
  }
}
