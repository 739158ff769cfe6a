import { MANAGED_SERVICE_SELECTOR, MANAGED_SLICE_SELECTOR } from '../contracts/labels.ts';
import { projectDubboService, projectPod, projectService, projectSlice } from './project.ts';
import type { DubboServiceView, PodView, ServiceView, SliceView } from './views.ts';

// The kinds of object dubbo-dns watches or writes: where they live in the API, which of them we
// select, and how each is projected into its view.

/** A resource collection and its projection. */
export interface Kind<V> {
  /** API path prefix, e.g. `/api/v1` or `/apis/discovery.k8s.io/v1`. */
  readonly prefix: string;
  /** Plural resource name, e.g. `pods`. */
  readonly resource: string;
  /** Only objects carrying these labels; all when undefined. */
  readonly labelSelector?: string | undefined;
  /** Raw object -> view; undefined drops the object (as if it did not exist). */
  readonly project: (object: Record<string, unknown>) => V | undefined;
}

/** The DubboService API. */
export const DUBBO_API = '/apis/dubbo-dns.io/v1alpha1';

/** Every Pod: DubboService selectors and dubbo-go annotations declare providers. */
export const PODS: Kind<PodView> = { prefix: '/api/v1', resource: 'pods', project: projectPod };
/** DubboService resources. */
export const DUBBO_SERVICES: Kind<DubboServiceView> = { prefix: DUBBO_API, resource: 'dubboservices', project: projectDubboService };
/** Every Service: the controller must see names taken by Services it does not manage. */
export const SERVICES: Kind<ServiceView> = { prefix: '/api/v1', resource: 'services', project: projectService };
/** Only the managed Services: what the DNS server publishes. */
export const MANAGED_SERVICES: Kind<ServiceView> = { prefix: '/api/v1', resource: 'services', labelSelector: MANAGED_SERVICE_SELECTOR, project: projectService };
/** The EndpointSlices dubbo-dns manages. */
export const MANAGED_SLICES: Kind<SliceView> = { prefix: '/apis/discovery.k8s.io/v1', resource: 'endpointslices', labelSelector: MANAGED_SLICE_SELECTOR, project: projectSlice };

/** The path of one object of a kind. */
export function objectPath(kind: Pick<Kind<unknown>, 'prefix' | 'resource'>, namespace: string, name: string): string {
  return `${kind.prefix}/namespaces/${namespace}/${kind.resource}/${name}`;
}
