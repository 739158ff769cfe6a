import { createHash } from 'node:crypto';
import { serviceId, type ServiceData, type ZoneData, type ZoneDelta, type ZoneUpdate } from './zone-data.ts';

// The one definition of "the zone changed" (habit 7: detect change by meaning): the services a zone
// holds, each with a content hash, so any update (a source's whole data, or its delta) becomes the
// delta that really changes answers. A whole-data update costs a pass over the services; a delta
// costs what it names.

/** Service data are immutable, so each object's fingerprint is computed once (sources reuse objects of unchanged services). */
const fingerprints = new WeakMap<ServiceData, string>();

/** Content hash of one service: equal hashes, equal answers. */
export function fingerprintOf(service: ServiceData): string {
  let f = fingerprints.get(service);
  if (f === undefined) {
    f = createHash('sha256').update(JSON.stringify(service)).digest('base64');
    fingerprints.set(service, f);
  }
  return f;
}

/** True when a delta changes nothing. */
export function isEmptyDelta(delta: ZoneDelta): boolean {
  return delta.put.length === 0 && delta.drop.length === 0;
}

/** The services of a zone by id, with their fingerprints. */
export class ServiceSet {
  readonly #byId = new Map<string, { readonly service: ServiceData; readonly fingerprint: string }>();

  get size(): number {
    return this.#byId.size;
  }

  /**
   * Applies `update` and returns what it changed: services new or different (by fingerprint), and
   * ids gone. Of two services with one id in the same update, the first counts (a second copy
   * would shadow it).
   */
  apply(update: ZoneUpdate): ZoneDelta {
    const put = new Map<string, ServiceData>();
    const drop: string[] = [];
    if ('full' in update) {
      const seen = new Set<string>();
      for (const service of update.full.services) {
        const id = serviceId(service);
        if (seen.has(id)) continue;
        seen.add(id);
        if (this.#set(id, service)) put.set(id, service);
      }
      for (const id of this.#byId.keys()) if (!seen.has(id)) drop.push(id);
      for (const id of drop) this.#byId.delete(id);
      return { put: [...put.values()], drop };
    }
    // Drop before put: an id in both is a replacement, compared with what it replaces.
    const putIds = new Set<string>();
    for (const service of update.delta.put) {
      const id = serviceId(service);
      if (putIds.has(id)) continue;
      putIds.add(id);
      if (this.#set(id, service)) put.set(id, service);
    }
    for (const id of update.delta.drop) if (!putIds.has(id) && this.#byId.delete(id)) drop.push(id);
    return { put: [...put.values()], drop };
  }

  /** All services, in no particular order. */
  data(): ZoneData {
    return { services: [...this.#byId.values()].map((e) => e.service) };
  }

  /** Sets one service; true when it is new or different. */
  #set(id: string, service: ServiceData): boolean {
    const fingerprint = fingerprintOf(service);
    const before = this.#byId.get(id);
    this.#byId.set(id, { service, fingerprint });
    return before?.fingerprint !== fingerprint;
  }
}
