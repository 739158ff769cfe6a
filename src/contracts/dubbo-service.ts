import { DEFAULT_WEIGHT, isWeight } from '../dubbo/metadata.ts';

// The DubboService spec (docs/crd.md), validated again in the controller: the CRD schema and CEL
// rules catch most mistakes at admission, but objects written before a schema change, or with the
// schema bypassed, must not break reconciliation.

/** A Kubernetes label selector. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: readonly string[] }[];
}

/** One interface a DubboService provides. */
export interface InterfaceSpec {
  readonly interface: string;
  readonly group: string;
  readonly version: string;
  /** One of the spec's port names; the first port when not given. */
  readonly protocol: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A validated DubboService spec with defaults applied. */
export interface DubboServiceSpec {
  readonly application: string | undefined;
  readonly selector: LabelSelector;
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  readonly interfaces: readonly InterfaceSpec[];
  readonly weight: number;
  readonly publishNotReadyAddresses: boolean;
}

const PORT_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const JAVA_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

/** Validates a spec; every problem is listed, each naming its field. */
export function validateDubboServiceSpec(raw: unknown): { ok: true; spec: DubboServiceSpec } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const spec = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const selector = spec['selector'] as LabelSelector | undefined;
  const hasLabels = selector?.matchLabels !== undefined && Object.keys(selector.matchLabels).length > 0;
  const hasExpressions = selector?.matchExpressions !== undefined && selector.matchExpressions.length > 0;
  if (!hasLabels && !hasExpressions) problems.push('spec.selector: must select pods (an empty selector would take every pod)');

  const ports: { name: string; port: number }[] = [];
  const rawPorts = Array.isArray(spec['ports']) ? (spec['ports'] as unknown[]) : [];
  if (rawPorts.length === 0) problems.push('spec.ports: at least one port is required');
  rawPorts.forEach((p, i) => {
    const { name, port } = (p ?? {}) as { name?: unknown; port?: unknown };
    if (typeof name !== 'string' || !PORT_NAME.test(name) || name.length > 15 || name.includes('--')) {
      problems.push(`spec.ports[${i}].name: ${JSON.stringify(name)} is not a protocol name (IANA service name, e.g. dubbo, tri)`);
    } else if (ports.some((q) => q.name === name)) problems.push(`spec.ports[${i}].name: ${name} is listed twice`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) problems.push(`spec.ports[${i}].port: must be 1-65535`);
    if (typeof name === 'string' && typeof port === 'number') ports.push({ name, port });
  });

  const interfaces: InterfaceSpec[] = [];
  const rawInterfaces = Array.isArray(spec['interfaces']) ? (spec['interfaces'] as unknown[]) : [];
  if (rawInterfaces.length === 0) problems.push('spec.interfaces: at least one interface is required');
  const seen = new Set<string>();
  rawInterfaces.forEach((x, i) => {
    const item = (x ?? {}) as Record<string, unknown>;
    const iface = item['interface'];
    if (typeof iface !== 'string' || !JAVA_NAME.test(iface)) {
      problems.push(`spec.interfaces[${i}].interface: ${JSON.stringify(iface)} is not a Java interface name`);
      return;
    }
    const group = typeof item['group'] === 'string' ? item['group'] : '';
    const version = typeof item['version'] === 'string' ? item['version'] : '';
    const id = `${iface}\u0000${group}\u0000${version}`;
    if (seen.has(id)) problems.push(`spec.interfaces[${i}]: ${group}/${iface}:${version} is listed twice`);
    seen.add(id);
    const protocol = typeof item['protocol'] === 'string' ? item['protocol'] : ports[0]?.name;
    if (protocol === undefined || !ports.some((p) => p.name === protocol)) {
      problems.push(`spec.interfaces[${i}].protocol: ${JSON.stringify(protocol)} is not one of spec.ports`);
      return;
    }
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries((item['metadata'] ?? {}) as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
    interfaces.push({ interface: iface, group, version, protocol, metadata });
  });

  const weight = spec['weight'] ?? DEFAULT_WEIGHT;
  if (!isWeight(weight)) problems.push('spec.weight: must be 0-65535');
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    spec: {
      application: typeof spec['application'] === 'string' ? spec['application'] : undefined,
      selector: selector ?? {},
      ports,
      interfaces,
      weight: weight as number,
      publishNotReadyAddresses: spec['publishNotReadyAddresses'] === true,
    },
  };
}

/** Kubernetes label selector semantics (all requirements ANDed). */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value ?? '')) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
