import { parseProviderUrl, ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';

// dubbo-go's Kubernetes registry (1.4/1.5): a provider pod carries label `dubbo.io/label` and
// annotation `dubbo.io/annotation` = base64 of a JSON array of `{"k": path, "v": ""}`, where a
// provider's path is `/dubbo/<interface>/providers/<URL-escaped provider URL>`. The annotation
// alone says what a pod provides, so the label is not read.

/** The annotation holding the registry entries. */
export const DUBBO_GO_ANNOTATION = 'dubbo.io/annotation';

/** An annotation that cannot be decoded at all. */
export class AnnotationError extends Error {
  override readonly name = 'AnnotationError';
}

/** What an annotation declares: providers, and entries that were skipped (with the reason). */
export interface DecodedAnnotation {
  readonly providers: readonly ProviderUrl[];
  readonly skipped: readonly string[];
}

const PROVIDER_PATH = /^\/dubbo\/([^/]+)\/providers\/(.+)$/;

/** Decodes a `dubbo.io/annotation` value. Throws AnnotationError when it is not base64 JSON of entries. */
export function decodeDubboGoAnnotation(value: string): DecodedAnnotation {
  const text = Buffer.from(value.trim(), 'base64').toString('utf8');
  // Buffer's base64 decoder ignores junk; re-encoding tells whether the input really was base64.
  if (value.trim() === '' || Buffer.from(text, 'utf8').toString('base64').replace(/=+$/, '') !== value.trim().replace(/\s+/g, '').replace(/=+$/, '')) {
    throw new AnnotationError(`${DUBBO_GO_ANNOTATION} is not base64`);
  }
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (err) {
    throw new AnnotationError(`${DUBBO_GO_ANNOTATION} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(entries)) throw new AnnotationError(`${DUBBO_GO_ANNOTATION} is not a JSON array of {k, v} entries`);
  const providers: ProviderUrl[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    const k = (entry as { k?: unknown } | null)?.k;
    if (typeof k !== 'string') {
      skipped.push(`entry without a string "k": ${JSON.stringify(entry).slice(0, 80)}`);
      continue;
    }
    const m = PROVIDER_PATH.exec(k);
    if (m === null || m[2] === undefined) continue; // consumers, configurators, directory nodes
    try {
      providers.push(parseProviderUrl(decodeURIComponent(m[2])));
    } catch (err) {
      if (err instanceof ProviderUrlError || err instanceof URIError) skipped.push(`${k.slice(0, 120)}: ${err.message}`);
      else throw err;
    }
  }
  return { providers, skipped };
}

/** Encodes entries the way dubbo-go writes them (for tests and tools). */
export function encodeDubboGoAnnotation(providerUrls: readonly string[]): string {
  const entries = providerUrls.map((url) => {
    const iface = new URL(url).searchParams.get('interface') ?? new URL(url).pathname.slice(1);
    return { k: `/dubbo/${iface}/providers/${encodeURIComponent(url)}`, v: '' };
  });
  return Buffer.from(JSON.stringify(entries)).toString('base64');
}
