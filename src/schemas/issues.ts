// The one way devx says what a zod parse refused: `path.to.field: message`, joined with `; `.
export interface Issue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

export function formatIssue(i: Issue, root = '(root)'): string {
  return `${i.path.map(String).join('.') || root}: ${i.message}`;
}

export function formatIssues(issues: readonly Issue[], root = '(root)'): string {
  return issues.map((i) => formatIssue(i, root)).join('; ');
}
