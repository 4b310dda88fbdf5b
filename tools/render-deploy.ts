// deploy/devx.yaml: the chart rendered with its defaults (release devx in devx-system, CRDs included), for users who
// install with `kubectl apply -k deploy/` instead of Helm. Rendering is deterministic (no random names, no
// pre-generated certificate: the default TLS mode is self-managed), so the committed file can be drift-checked.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { readVersions } from '../test/e2e/harness/real-parts.ts';
import { CHART_DIR, GENERATE_COMMAND, REPO } from './chart-sources.ts';

export const DEPLOY_FILE = path.join(REPO, 'deploy/devx.yaml');
export const DEPLOY_RELEASE = 'devx';
export const DEPLOY_NAMESPACE = 'devx-system';

/**
 * The Kubernetes version `helm template` and `helm lint` assume. Helm built from Go modules lacks the version its
 * Makefile stamps in and would assume v1.20 (below the chart's kubeVersion); the control plane's version is what the
 * tests install into. The chart asks nothing of .Capabilities, so the rendering does not depend on it.
 */
export function kubeVersionFlag(): string {
  return `--kube-version=${readVersions().K8S_VERSION}`;
}

/** `helm template` arguments for deploy/devx.yaml. */
export function deployTemplateArgs(): string[] {
  return ['template', DEPLOY_RELEASE, CHART_DIR, '--namespace', DEPLOY_NAMESPACE, '--include-crds', kubeVersionFlag()];
}

/** An environment that keeps helm's caches and config out of the user's home (helm writes them even to render). */
export function helmEnv(dir = path.join(REPO, '.devx-tmp', 'helm')): NodeJS.ProcessEnv {
  return { ...process.env, HELM_CACHE_HOME: path.join(dir, 'cache'), HELM_CONFIG_HOME: path.join(dir, 'config'), HELM_DATA_HOME: path.join(dir, 'data') };
}

export function renderDeploy(helm: string): string {
  const rendered = execFileSync(helm, deployTemplateArgs(), { encoding: 'utf8', env: helmEnv() });
  return (
    `# Generated from charts/devx with its default values by \`${GENERATE_COMMAND}\`; do not edit.\n` +
    `# Install: kubectl apply --server-side -k deploy/   (the namespace ${DEPLOY_NAMESPACE} comes from deploy/namespace.yaml)\n` +
    rendered
  );
}
