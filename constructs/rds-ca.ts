import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryRoot } from "./repository-root";

/**
 * The PEM bundle of the CAs Amazon RDS signs server certificates with in a region (constructs/certs/rds/<region>.pem),
 * read at synth. Throws, saying where to get it, for a region with no bundle here.
 */
export function rdsCaBundle(region: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error(`rdsCaBundle: "${region}" is not an AWS region name`);
  const file = join(repositoryRoot(), "constructs", "certs", "rds", `${region}.pem`);
  if (!existsSync(file)) {
    throw new Error(
      `no RDS CA bundle for ${region}: save https://truststore.pki.rds.amazonaws.com/${region}/${region}-bundle.pem ` +
        `(its G1 roots) as constructs/certs/rds/${region}.pem and record its fingerprints in constructs/certs/rds/README.md`,
    );
  }
  return readFileSync(file, "utf8");
}
