// Which namespaces a process watches: all of them (one cluster-wide list+watch per kind, which needs
// ClusterRoles), or a list (one list+watch per namespace and kind, so namespaced Roles suffice).

/** The namespaces watched; undefined means all. */
export type NamespaceScope = readonly string[] | undefined;

/** The collection paths of `resource` (under `prefix`, e.g. `/api/v1`) for a scope. */
export function collectionPaths(prefix: string, resource: string, namespaces: NamespaceScope): string[] {
  if (namespaces === undefined) return [`${prefix}/${resource}`];
  return namespaces.map((ns) => `${prefix}/namespaces/${ns}/${resource}`);
}

/** For logs: the scope in words. */
export function describeScope(namespaces: NamespaceScope): string {
  return namespaces === undefined ? '(all)' : namespaces.join(',');
}
