import { nextSerial, wireKey, ZoneTable, type ZoneIndex, type ZoneSettings } from './zone-index.ts';
import { isEmptyDelta, ServiceSet } from './service-set.ts';
import type { ZoneData, ZoneDelta, ZoneUpdate } from './zone-data.ts';
import { normalizeZone } from '../../dubbo/naming.ts';

/** What an update did. */
export type UpdateResult =
  | { readonly changed: false; readonly index: ZoneIndex | undefined }
  | { readonly changed: true; readonly index: ZoneIndex; readonly buildMs: number };

/** A whole-data value is an update of everything. */
function asUpdate(update: ZoneUpdate | ZoneData): ZoneUpdate {
  return 'services' in update ? { full: update } : update;
}

/**
 * The one definition of "the zone changed" and of the serial each change gets: an update that
 * would answer exactly as before is no change. A single process asks it through its ZoneHolder; a
 * cluster's primary asks it and hands each change with its serial to its workers, so every worker
 * serves the same SOA.
 */
export class ZoneVersions {
  readonly #services = new ServiceSet();
  #serial: number | undefined;

  /** The serial of the last version; undefined before the first. */
  get serial(): number | undefined {
    return this.#serial;
  }

  /** How many services the zone has. */
  get services(): number {
    return this.#services.size;
  }

  /** The effective change and its serial; undefined when the update changes nothing (the first one always counts). */
  next(update: ZoneUpdate | ZoneData): { readonly delta: ZoneDelta; readonly serial: number } | undefined {
    const delta = this.#services.apply(asUpdate(update));
    if (isEmptyDelta(delta) && this.#serial !== undefined) return undefined;
    this.#serial = nextSerial(this.#serial);
    return { delta, serial: this.#serial };
  }

  /** Every service of the current version (for a worker that starts late). */
  data(): ZoneData {
    return this.#services.data();
  }
}

/** Holds the zone's table and applies each change to it. */
export class ZoneHolder {
  readonly settings: ZoneSettings;
  /** The apex in wire form: known before any version, so out-of-zone questions are REFUSED early. */
  readonly zoneKey: string;
  readonly #versions = new ZoneVersions();
  /** What a worker holds, when the serials come from elsewhere (install). */
  readonly #installed = new ServiceSet();
  readonly #table: ZoneTable;
  #current: ZoneIndex | undefined;

  constructor(settings: ZoneSettings) {
    this.settings = { ...settings, zone: normalizeZone(settings.zone) };
    this.zoneKey = wireKey(this.settings.zone);
    this.#table = new ZoneTable(this.settings);
  }

  /** The zone queries read; undefined until the first version. */
  get current(): ZoneIndex | undefined {
    return this.#current;
  }

  /** Applies an update with a serial chosen elsewhere (a cluster's primary, so every worker serves the same SOA). */
  install(update: ZoneUpdate | ZoneData, serial: number): UpdateResult & { changed: true } {
    return this.#apply(this.#installed.apply(asUpdate(update)), serial);
  }

  /** Applies an update when it is a change (ZoneVersions), with the next serial. */
  update(update: ZoneUpdate | ZoneData): UpdateResult {
    const next = this.#versions.next(update);
    if (next === undefined) return { changed: false, index: this.#current };
    return this.#apply(next.delta, next.serial);
  }

  #apply(delta: ZoneDelta, serial: number): UpdateResult & { changed: true } {
    const started = performance.now();
    this.#table.apply(delta, serial);
    this.#current = this.#table;
    return { changed: true, index: this.#table, buildMs: performance.now() - started };
  }
}
