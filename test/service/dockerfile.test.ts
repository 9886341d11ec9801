// The service images, checked statically (Docker cannot run here): each Dockerfile parsed into its stages and
// instructions. The GPU image runs on a CUDA 12 + cuDNN 9 runtime, installs onnxruntime-node's CUDA provider
// libraries with the package's own installer (the manifest it names exists in the installed onnxruntime-node,
// and the files the build checks for are the ones that installer writes), asks for CUDA by default, runs as a
// non-root user and starts the same entry point as the CPU image and the InferenceService construct.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import "cdktf/lib/testing/adapters/jest";
import { InferenceService } from "../../constructs/inference-service";
import { ENV, GRPC_PORT, SERVICE_PORT } from "../../service/src/contract";
import { PROVIDER_INSTALL_COMMAND } from "../../service/src/model/execution-provider";
import { projectRoot } from "../../service/src/paths";
import { NETWORK, synth } from "../constructs/support/harness";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Dockerfile -> global ARGs and stages (continuations joined, comments dropped), ARG defaults substituted in FROM. */
function parseDockerfile(path: string): { args: Record<string, string>; stages: Stage[] } {
  const text = readFileSync(path, "utf8").replace(/\\\n/g, " ");
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue;
    const [, keyword = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword.toUpperCase(), args: rest.replace(/\s+/g, " ") };
    if (instruction.keyword === "FROM") {
      const [image = "", , name] = instruction.args.split(" ");
      stages.push({ from: image.replace(/\$\{(\w+)\}/g, (_, v: string) => args[v] ?? `\${${v}}`), name, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === "ARG") {
      const [name = "", value = ""] = instruction.args.split("=", 2);
      args[name] = value;
    } else {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);
const ROOT = projectRoot();
const gpu = parseDockerfile(join(ROOT, "service", "Dockerfile.gpu"));
const cpu = parseDockerfile(join(ROOT, "service", "Dockerfile"));
const runtime = (file: typeof gpu) => file.stages.at(-1)!;

describe("service/Dockerfile.gpu", () => {
  it("runs on a CUDA 12 + cuDNN runtime image, with the CPU image's Node", () => {
    expect(runtime(gpu).from).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
    expect(gpu.args.NODE_BASE).toBe(cpu.args.BASE);
    expect(all(runtime(gpu), "COPY")).toContain("--from=node /usr/local/bin/node /usr/local/bin/node");
    expect(gpu.stages.find((s) => s.name === "node")!.from).toBe(cpu.args.BASE);
  });

  it("installs onnxruntime-node's CUDA 12 provider libraries with the package's installer, and checks they arrived", () => {
    const deps = gpu.stages.find((s) => s.name === "deps")!;
    const runs = all(deps, "RUN");
    expect(runs[0]).toMatch(/^npm ci --omit=dev --ignore-scripts /);
    const install = runs.find((r) => r.includes("script/install"))!;
    expect(install.startsWith(PROVIDER_INSTALL_COMMAND)).toBe(true);
    // The manifest "cuda12" is what this onnxruntime-node's installer offers for linux/x64, and these are its files.
    const metadata = require(join(ROOT, "node_modules", "onnxruntime-node", "script", "install-metadata.js")) as {
      requirements: Record<string, string[]>;
      manifests: Record<string, Record<string, unknown>>;
    };
    expect(metadata.requirements["linux/x64"]).toContain("cuda12");
    const files = Object.keys(metadata.manifests["linux/x64:cuda12"]!).map((f) => f.replace(/^\.\//, ""));
    for (const file of ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"]) {
      expect(files).toContain(file);
      expect(install).toContain(`test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/${file}`);
    }
    // Everything the runtime stage copies from deps includes those libraries.
    expect(all(runtime(gpu), "COPY")).toContain("--from=deps /app/node_modules ./node_modules");
  });

  it("asks for CUDA by default, runs non-root, exposes HTTP and gRPC, and starts the CPU image's entry point", () => {
    const stage = runtime(gpu);
    expect(all(stage, "ENV")).toContain(`${ENV.executionProvider}=cuda`);
    const user = last(stage, "USER")!;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    expect(last(stage, "EXPOSE")!.split(" ").map(Number)).toEqual([SERVICE_PORT, GRPC_PORT]);
    expect(last(stage, "CMD")).toBe(last(runtime(cpu), "CMD"));
    expect(last(stage, "WORKDIR")).toBe("/app");
    expect(all(stage, "COPY")).toEqual(expect.arrayContaining(all(runtime(cpu), "COPY")));
  });

  it("starts what the InferenceService construct runs", () => {
    const out = synth((stack) =>
      new InferenceService(stack, "svc", {
        model: "m",
        variant: "stable",
        namespace: "models",
        image: "ghcr.io/modelport/modelport-service:0.1.0-gpu",
        registryAlias: "champion",
        trackingUri: "http://mlflow:5000",
        predictionLog: { secretName: "s", key: "url" },
        network: NETWORK,
        prometheusRelease: "kps",
        gpus: 1,
      }),
    );
    const container = out.named("kubernetes_deployment_v1", "m-stable").spec.template.spec.container[0];
    expect(JSON.stringify(container.command)).toBe(last(runtime(gpu), "CMD")!.replace(/", "/g, '","'));
    expect(container.working_dir).toBe(last(runtime(gpu), "WORKDIR"));
  });
});

describe("service/Dockerfile (CPU)", () => {
  it("skips onnxruntime-node's CUDA download, runs non-root and exposes HTTP and gRPC", () => {
    expect(cpu.stages[0]!.instructions).toContainEqual({ keyword: "ENV", args: "ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}" });
    expect(cpu.stages[0]!.instructions).toContainEqual({ keyword: "ARG", args: "ONNXRUNTIME_NODE_INSTALL=skip" });
    expect(last(runtime(cpu), "USER")).toBe("1000:1000");
    expect(last(runtime(cpu), "EXPOSE")!.split(" ").map(Number)).toEqual([SERVICE_PORT, GRPC_PORT]);
  });
});
