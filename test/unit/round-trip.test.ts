import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { projectService, projectSlice } from '../../src/kube/project.ts';
import { bindSlice, desiredService, desiredSlices } from '../../src/plan/desired.ts';
import { declareKey } from '../../src/source/declared.ts';
import { serviceData } from '../../src/source/kubernetes-source.ts';
import type { PodView } from '../../src/kube/views.ts';
import { encodeDubboGoAnnotation, decodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';

// What the controller writes, the DNS server reads back: declarations -> declareKey -> the
// manifests of the plan -> the API objects' projections -> serviceData. Both sides use one codec
// (contracts/), so every provider comes back with its address, port, readiness, weight, hostname
// and parameters, and credentials never make the trip.

const KEY = serviceKey('org.example.Echo', 'g', '1');

function pod(i: number, o: { ready: boolean; ip: string; url: string }): { pod: PodView; url: ReturnType<typeof decodeDubboGoAnnotation>['providers'][number] } {
  const url = decodeDubboGoAnnotation(encodeDubboGoAnnotation([o.url])).providers[0]!;
  return { pod: { namespace: 'ns', name: `p${i}`, uid: `u${i}`, labels: {}, ips: [o.ip], ready: o.ready, terminating: false, hostname: `p${i}` }, url };
}

describe('round trip: controller manifests -> DNS zone data', () => {
  it('every provider comes back as written; tokens never do', () => {
    const provider = fc.record({
      ip: fc.oneof(fc.ipV4(), fc.ipV6()),
      port: fc.integer({ min: 1, max: 65535 }),
      ready: fc.boolean(),
      weight: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      application: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
    });
    fc.assert(
      fc.property(fc.uniqueArray(provider, { selector: (p) => p.ip, minLength: 1, maxLength: 130 }), (providers) => {
        const annotated = providers.map((p, i) =>
          pod(i, {
            ready: p.ready,
            ip: p.ip,
            url: `tri://${p.ip.includes(':') ? `[${p.ip}]` : p.ip}:${p.port}/${KEY.interface}?group=g&version=1&application=${p.application}&token=s3cret${p.weight === undefined ? '' : `&weight=${p.weight}`}`,
          }),
        );
        const declared = declareKey('ns', KEY, [], annotated)!;
        const service = projectService({ ...desiredService(declared), metadata: { ...desiredService(declared).metadata, uid: 'svc' } });
        const slices = desiredSlices(declared, []).map((m) => projectSlice(bindSlice(m, 'svc'))!);
        const data = serviceData(service, slices)!;
        assert.deepEqual(data.key, KEY);
        assert.equal(data.protocol, 'tri');
        const got = data.endpoints.map((e) => [e.address, e.port, e.ready, e.weight, e.hostname, e.params['application']]).sort();
        const want = declared.endpoints.map((e) => [e.address, e.ports[0]!.port, e.ready, e.weight, e.hostname, e.params['application']]).sort();
        assert.deepEqual(got, want);
        assert.ok(!JSON.stringify([service, slices]).includes('s3cret'));
      }),
      { numRuns: 50 },
    );
  });
});
