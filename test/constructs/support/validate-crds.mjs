// Validates custom resources against their CRD schemas with @kubernetes-models/* (ESM-only packages: their
// exports maps have no "require" condition, so jest's CommonJS runtime cannot load them; this runs in plain
// Node, which imports ESM on Node 20). Reads a JSON array of objects on stdin, prints a JSON array of results.
const MODELS = {
  "networking.istio.io/v1": "@kubernetes-models/istio/networking.istio.io/v1",
  "security.istio.io/v1": "@kubernetes-models/istio/security.istio.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
  "postgresql.cnpg.io/v1": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1",
};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const object of JSON.parse(input)) {
  const where = `${object.kind} ${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
  const modulePath = MODELS[object.apiVersion];
  if (!modulePath) {
    results.push({ object: where, error: `no CRD schema known for apiVersion ${object.apiVersion}` });
    continue;
  }
  const Model = (await import(`${modulePath}/${object.kind}`))[object.kind];
  if (!Model) {
    results.push({ object: where, error: `no model for kind ${object.kind} in ${modulePath}` });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ object: where, error: null });
  } catch (e) {
    results.push({ object: where, error: e.message });
  }
}
process.stdout.write(JSON.stringify(results));
