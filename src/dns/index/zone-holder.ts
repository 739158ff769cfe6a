import { buildZoneIndex, nextSerial, wireKey, zoneFingerprint, type ZoneIndex, type ZoneSettings } from './zone-index.ts';
import type { ZoneData } from './zone-data.ts';
import { normalizeZone } from '../../dubbo/naming.ts';

/** What an update did. */
export type UpdateResult =
  | { readonly changed: false; readonly index: ZoneIndex }
  | { readonly changed: true; readonly index: ZoneIndex; readonly previous: ZoneIndex | undefined; readonly buildMs: number };

/**
 * Holds the current snapshot and swaps in a new one whole. The serial rises only
 * when the zone's content changes (habit 7: detect change by meaning).
 */
export class ZoneHolder {
  readonly settings: ZoneSettings;
  /** The apex in wire form: known before any snapshot, so out-of-zone questions are REFUSED early. */
  readonly zoneKey: string;
  #current: ZoneIndex | undefined;

  constructor(settings: ZoneSettings) {
    this.settings = { ...settings, zone: normalizeZone(settings.zone) };
    this.zoneKey = wireKey(this.settings.zone);
  }

  /** The snapshot queries read; undefined until the first build. */
  get current(): ZoneIndex | undefined {
    return this.#current;
  }

  /**
   * Builds a snapshot with a serial chosen elsewhere (a cluster's primary, so every worker serves
   * the same SOA) and swaps it in.
   */
  install(data: ZoneData, serial: number): UpdateResult {
    const previous = this.#current;
    const started = performance.now();
    const index = buildZoneIndex(data, this.settings, serial, previous);
    this.#current = index;
    return { changed: true, index, previous, buildMs: performance.now() - started };
  }

  /** Builds a snapshot from `data` off to the side and swaps it in when it differs. */
  update(data: ZoneData): UpdateResult {
    const previous = this.#current;
    if (previous !== undefined && zoneFingerprint(data, this.settings) === previous.fingerprint) return { changed: false, index: previous };
    const started = performance.now();
    const index = buildZoneIndex(data, this.settings, nextSerial(previous?.serial), previous);
    this.#current = index;
    return { changed: true, index, previous, buildMs: performance.now() - started };
  }
}
