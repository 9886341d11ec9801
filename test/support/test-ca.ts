/**
 * Throwaway certificate authorities and server certificates made with the real openssl, for tests of TLS clients:
 *
 *   const ca = createTestCa(dir, "test-ca");
 *   const server = issueServerCertificate(ca, dir, "db", { ips: ["127.0.0.1"], dns: ["localhost"] });
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

/** A self-signed CA (EC P-256, one day). */
export function createTestCa(dir: string, name: string): TestCa {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  openssl([
    "req", "-x509", "-new", "-key", keyFile, "-out", certFile, "-days", "1", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { name, certFile, keyFile };
}

/** A server certificate signed by `ca`, valid for the given host names and addresses. */
export function issueServerCertificate(ca: TestCa, dir: string, name: string, san: { dns?: string[]; ips?: string[] }): ServerCertificate {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  const names = [...(san.dns ?? []).map((d) => `DNS:${d}`), ...(san.ips ?? []).map((ip) => `IP:${ip}`)];
  writeFileSync(extFile, `subjectAltName=${names.join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  openssl(["req", "-new", "-key", keyFile, "-out", csrFile, "-subj", `/CN=${san.dns?.[0] ?? san.ips?.[0] ?? name}`]);
  openssl(["x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-out", certFile, "-days", "1", "-extfile", extFile]);
  return { certFile, keyFile };
}
