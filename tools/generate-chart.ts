// Writes every generated file of the chart and the plain manifests: `node tools/generate-chart.ts` (Node 24, e.g.
// `npx node tools/generate-chart.ts`). Run it after changing the webhook configurations, the admission policies,
// the DevPolicy schema (after `npm run generate`), values.yaml or any template. Needs helm (`npm run real-parts`).
import fs from 'node:fs';
import path from 'node:path';
import { requireRealParts } from '../test/e2e/harness/real-parts.ts';
import { CHART_FILES, REPO, renderAdmissionPoliciesTemplate, renderChartCrd, renderReadme, renderValuesSchema, renderWebhooksTemplate } from './chart-sources.ts';
import { DEPLOY_FILE, renderDeploy } from './render-deploy.ts';

function write(file: string, text: string): void {
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (before === text) return;
  fs.writeFileSync(file, text);
  console.log(`wrote ${path.relative(REPO, file)}`);
}

write(CHART_FILES.webhooks, renderWebhooksTemplate());
write(CHART_FILES.admissionPolicies, renderAdmissionPoliciesTemplate());
write(CHART_FILES.crd, renderChartCrd());
write(CHART_FILES.schema, renderValuesSchema());
write(CHART_FILES.readme, renderReadme());
// Last: it renders the chart, including what was just written.
write(DEPLOY_FILE, renderDeploy(requireRealParts(['helm']).helm));
