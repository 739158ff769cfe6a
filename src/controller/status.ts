import type { Condition, DubboServiceView } from '../kube/views.ts';

// Pure: what a DubboService's status should say (docs/crd.md). Conditions follow the Kubernetes API
// conventions: CamelCase reasons, observedGeneration, and lastTransitionTime that changes only when
// the condition's status flips.

/** Reasons, as constants so tests and docs use the same words. */
export const REASON = {
  Applied: 'Applied',
  ApplyFailed: 'ApplyFailed',
  InvalidSpec: 'InvalidSpec',
  NameConflict: 'NameConflict',
  NoReadyEndpoints: 'NoReadyEndpoints',
  EndpointsReady: 'EndpointsReady',
  Pending: 'Pending',
} as const;

/** What reconciling one of the resource's keys found. */
export interface KeyReport {
  readonly name: string;
  readonly interface: string;
  readonly group: string;
  readonly version: string;
  readonly endpoints: number;
  readonly readyEndpoints: number;
  readonly conflict?: string | undefined;
  readonly error?: string | undefined;
}

/** The status to write. */
export interface DubboServiceStatus {
  observedGeneration: number;
  serviceCount: number;
  readyEndpoints: number;
  services: { name: string; interface: string; group: string; version: string; endpoints: number; readyEndpoints: number }[];
  conditions: Condition[];
}

/**
 * Computes the status. `reports` has one entry per interface that has been reconciled; a missing
 * one means that key has not been reconciled yet.
 */
export function computeStatus(cr: DubboServiceView, problems: readonly string[] | undefined, expected: number, reports: readonly KeyReport[], now: string): DubboServiceStatus {
  const condition = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const previous = cr.conditions.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message,
      observedGeneration: cr.generation,
      lastTransitionTime: previous !== undefined && previous.status === status ? previous.lastTransitionTime : now,
    };
  };
  const services = reports.map((r) => ({ name: r.name, interface: r.interface, group: r.group, version: r.version, endpoints: r.endpoints, readyEndpoints: r.readyEndpoints }));
  const base = {
    observedGeneration: cr.generation,
    serviceCount: services.length,
    readyEndpoints: services.reduce((n, s) => n + s.readyEndpoints, 0),
    services: services.sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
  if (problems !== undefined) {
    const message = problems.join('; ');
    return {
      ...base,
      conditions: [condition('Reconciled', 'False', REASON.InvalidSpec, message), condition('Ready', 'False', REASON.InvalidSpec, message)],
    };
  }
  const failed = reports.filter((r) => r.error !== undefined);
  const conflicts = reports.filter((r) => r.conflict !== undefined);
  const reconciled =
    failed.length > 0
      ? condition('Reconciled', 'False', REASON.ApplyFailed, failed.map((r) => `${r.name}: ${r.error}`).join('; '))
      : reports.length < expected
        ? condition('Reconciled', 'Unknown', REASON.Pending, `${reports.length} of ${expected} interfaces reconciled`)
        : condition('Reconciled', 'True', REASON.Applied, `${reports.length} Services and their EndpointSlices are up to date`);
  let ready: Condition;
  if (conflicts.length > 0) ready = condition('Ready', 'False', REASON.NameConflict, conflicts.map((r) => `Service ${r.name}: ${r.conflict}`).join('; '));
  else if (reports.length < expected) ready = condition('Ready', 'Unknown', REASON.Pending, 'not every interface has been reconciled yet');
  else {
    const empty = reports.filter((r) => r.readyEndpoints === 0);
    ready =
      empty.length > 0
        ? condition('Ready', 'False', REASON.NoReadyEndpoints, `no ready endpoint for ${empty.map((r) => r.interface).join(', ')}`)
        : condition('Ready', 'True', REASON.EndpointsReady, `${base.readyEndpoints} ready endpoints`);
  }
  return { ...base, conditions: [reconciled, ready] };
}
