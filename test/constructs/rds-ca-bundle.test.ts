// The vendored RDS CA bundle (constructs/certs/rds/<region>.pem) is exactly the region's G1 root CAs recorded in
// constructs/certs/rds/README.md: self-signed CA certificates of Amazon RDS with the listed SHA-256 fingerprints.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rdsCaBundle } from "../../constructs/rds-ca";
import { RDS_CA_IDENTIFIER } from "../../constructs/rds-postgres";

const README = readFileSync(join(__dirname, "..", "..", "constructs", "certs", "rds", "README.md"), "utf8");
/** | CA name | `fingerprint` | ... rows of the README table. */
const recorded = [...README.matchAll(/^\| (Amazon RDS [^|]+?) \| `([0-9A-F:]{95})` \|/gm)].map((m) => ({ name: m[1]!, fingerprint: m[2]! }));

function certificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

describe("RDS CA bundle for eu-west-1", () => {
  const certs = certificates(rdsCaBundle("eu-west-1"));

  it("holds exactly the root CAs whose fingerprints the README records", () => {
    expect(recorded).toHaveLength(3);
    expect(certs.map((c) => c.fingerprint256).sort()).toEqual(recorded.map((r) => r.fingerprint).sort());
  });

  it("each is a self-signed Amazon RDS root CA of the region, named as recorded", () => {
    for (const cert of certs) {
      expect(cert.ca).toBe(true);
      expect(cert.issuer).toBe(cert.subject);
      expect(cert.verify(cert.publicKey)).toBe(true);
      const cn = /CN=([^\n]+)/.exec(cert.subject)![1];
      expect(recorded.find((r) => r.fingerprint === cert.fingerprint256)?.name).toBe(cn);
      expect(cn).toMatch(/^Amazon RDS eu-west-1 Root CA (RSA2048|RSA4096|ECC384) G1$/);
    }
  });

  it("includes the root of the CA the instance is pinned to", () => {
    expect(RDS_CA_IDENTIFIER).toBe("rds-ca-rsa2048-g1");
    expect(certs.some((c) => c.subject.includes("CN=Amazon RDS eu-west-1 Root CA RSA2048 G1"))).toBe(true);
  });
});
