// What a pod's record signature binds besides the records: the parts devx injected. A pod that copies another pod's
// signed `dev.x/status` but brings its own sidecar, image or Secret does not verify.
import type { KubeObject, PodSpec } from './kube.ts';
import { SIDECAR_NAME, VOLUME_SYNC_SECRET } from './names.ts';

/** The injected sidecar's image and command, the sync Secret it mounts, and the dev container's image and command. */
export function injectionDigest(pod: KubeObject): string {
  const spec = (pod.spec ?? {}) as Partial<PodSpec>;
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  const sidecar = containers.find((c) => c.name === SIDECAR_NAME);
  if (!sidecar) return '';
  const secret = (spec.volumes ?? []).find((v) => v.name === VOLUME_SYNC_SECRET) as { secret?: { secretName?: string } } | undefined;
  const parts = (c: (typeof containers)[number]): unknown[] => [c.name, c.image, c.command, c.args];
  return JSON.stringify([parts(sidecar), secret?.secret?.secretName, containers.filter((c) => c !== sidecar).map(parts)]);
}
