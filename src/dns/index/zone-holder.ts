import { buildZoneIndex, nextSerial, wireKey, zoneFingerprint, type ZoneIndex, type ZoneSettings } from './zone-index.ts';
import type { ZoneData } from './zone-data.ts';
import { normalizeZone } from '../../dubbo/naming.ts';

/** What an update did. */
export type UpdateResult =
  | { readonly changed: false; readonly index: ZoneIndex }
  | { readonly changed: true; readonly index: ZoneIndex; readonly previous: ZoneIndex | undefined; readonly buildMs: number };

/**
 * The one definition of "the zone changed" and of the serial each change gets (habit 7: detect
 * change by meaning): data that would answer exactly as the last version is no change. A single
 * process asks it through its ZoneHolder; a cluster's primary asks it and hands the serial to its
 * workers, so every worker serves the same SOA.
 */
export class ZoneVersions {
  readonly #settings: ZoneSettings;
  #fingerprint: string | undefined;
  #serial: number | undefined;

  constructor(settings: ZoneSettings) {
    this.#settings = settings;
  }

  /** The serial of the last version; undefined before the first. */
  get serial(): number | undefined {
    return this.#serial;
  }

  /** The serial for `data`, or undefined when it is no change from the last version. */
  next(data: ZoneData): number | undefined {
    const fingerprint = zoneFingerprint(data, this.#settings);
    if (fingerprint === this.#fingerprint) return undefined;
    this.#fingerprint = fingerprint;
    this.#serial = nextSerial(this.#serial);
    return this.#serial;
  }
}

/** Holds the current snapshot and swaps in a new one whole. */
export class ZoneHolder {
  readonly settings: ZoneSettings;
  /** The apex in wire form: known before any snapshot, so out-of-zone questions are REFUSED early. */
  readonly zoneKey: string;
  readonly #versions: ZoneVersions;
  #current: ZoneIndex | undefined;

  constructor(settings: ZoneSettings) {
    this.settings = { ...settings, zone: normalizeZone(settings.zone) };
    this.zoneKey = wireKey(this.settings.zone);
    this.#versions = new ZoneVersions(this.settings);
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

  /** Builds a snapshot from `data` off to the side and swaps it in when it is a change (ZoneVersions). */
  update(data: ZoneData): UpdateResult {
    const serial = this.#versions.next(data);
    if (serial === undefined) return { changed: false, index: this.#current! };
    return this.install(data, serial);
  }
}
