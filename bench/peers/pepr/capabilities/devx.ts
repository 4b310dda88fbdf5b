// What devx-webhook does to a pod labelled dev.x/enabled=true, as a Pepr Mutate action: the container whose image a
// rule matches gets the dev image, an idle command and the work directory, loses its probes, and mounts the shared
// work volume; the syncthing sidecar (DEVX_BENCH_SIDECAR) is added with its three volumes; the dev.x/status record is
// written and signed (HMAC-SHA256, as devx signs its records). The DevPolicy is the bench's `default` one
// (test/golden/cluster.yaml), written into the module: a Pepr module has no DevPolicy to read, so it decides nothing a
// policy would.
import { createHmac, randomBytes } from "node:crypto";
import type { V1Container } from "@kubernetes/client-node";
import { Capability, a } from "pepr";

const policy = {
  images: [
    {
      match: "*/bookinfo/reviews*",
      devImage: "registry.example.com/dev/java:21",
    },
  ],
  workDir: "/home/devx",
};
const rules = policy.images.map((r) => ({
  re: new RegExp(
    `^${r.match.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`,
  ),
  devImage: r.devImage,
}));
const signingKey = randomBytes(32);
// The syncthing container, as the bench hands it over: the one devx adds, to the byte (its command, identity,
// security context and resources are devx's own, not what this comparison is about).
const sidecar: V1Container | undefined = process.env.DEVX_BENCH_SIDECAR
  ? JSON.parse(process.env.DEVX_BENCH_SIDECAR)
  : undefined;

const IDLE = [
  "sh",
  "-c",
  "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];

export const DevX = new Capability({
  name: "devx",
  description:
    "Dev mode for a pod labelled dev.x/enabled=true: dev image, syncthing sidecar, probes stripped",
  namespaces: [],
});

DevX.When(a.Pod)
  .IsCreated()
  .WithLabel("dev.x/enabled", "true")
  .Mutate(function devMode(request) {
    const pod = request.Raw;
    const target = pod.spec?.containers.find((c) =>
      rules.some((r) => r.re.test(c.image ?? "")),
    );
    if (!pod.spec || !target) return;
    if (!sidecar) throw new Error("DEVX_BENCH_SIDECAR is not set");
    const devImage = rules.find((r) => r.re.test(target.image ?? ""))!.devImage;
    const workload = `pod/${pod.metadata?.name ?? pod.metadata?.generateName?.replace(/-$/, "") ?? target.name}`;
    pod.spec.volumes = [
      ...(pod.spec.volumes ?? []),
      { name: "devx-workdir", emptyDir: {} },
      { name: "devx-sync-home", emptyDir: {} },
      {
        name: "devx-sync-secret",
        secret: { secretName: `devx-sync-${workload.replace("/", "-")}` },
      },
    ];
    target.volumeMounts = [
      ...(target.volumeMounts ?? []),
      { name: "devx-workdir", mountPath: policy.workDir },
    ];
    delete target.readinessProbe;
    delete target.livenessProbe;
    delete target.startupProbe;
    target.image = devImage;
    target.command = IDLE;
    target.workingDir = policy.workDir;
    pod.spec.containers.push(structuredClone(sidecar));
    const status = JSON.stringify({
      version: "bench",
      target: target.name,
      image: devImage,
      containers: ["devx-sync"],
      volumes: ["devx-workdir", "devx-sync-home", "devx-sync-secret"],
    });
    request.SetAnnotation("dev.x/workload", workload);
    request.SetAnnotation("dev.x/status", status);
    request.SetAnnotation(
      "dev.x/signature",
      createHmac("sha256", signingKey).update(status).digest("base64url"),
    );
  });
