// Application-level registration nodes (zookeeper/instance-nodes.ts): instance data as Curator
// and Dubbo 3 write it, mapping nodes, and what they publish.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProviderUrlError } from '../../src/dubbo/provider-url.ts';
import { formatServiceKey } from '../../src/dubbo/service-key.ts';
import { instanceProviders, isApplicationName, MAX_INSTANCE_DATA, parseInstanceNode, parseMapping, parseMetadataNode } from '../../src/zookeeper/instance-nodes.ts';

/** An instance node's data the way dubbo-go's Curator discovery writes it (Dubbo Java's is the same shape). */
function curatorInstance(address: string, port: number, metadata: Record<string, string>): Buffer {
  const id = `${address}:${port}`;
  return Buffer.from(
    JSON.stringify({
      name: 'order-app',
      id,
      address,
      port,
      sslPort: null,
      payload: { '@class': 'org.apache.dubbo.registry.zookeeper.ZookeeperInstance', id, name: 'order-app', metadata },
      registrationTimeUTC: 0,
      serviceType: 'DYNAMIC',
      uriSpec: null,
    }),
  );
}

describe('instance nodes', () => {
  it('reads address and every protocol of dubbo.endpoints', () => {
    const data = curatorInstance('10.1.0.5', 20880, {
      'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"},{"port":50051,"protocol":"tri"}]',
      'dubbo.metadata.revision': '8a1b',
      'dubbo.metadata.storage-type': 'local',
    });
    assert.deepEqual(parseInstanceNode('order-app', '10.1.0.5:20880', data), {
      application: 'order-app',
      host: '10.1.0.5',
      endpoints: [
        { protocol: 'dubbo', port: 20880 },
        { protocol: 'tri', port: 50051 },
      ],
    });
  });

  it('without dubbo.endpoints, the instance port for dubbo; IPv6 without brackets', () => {
    assert.deepEqual(parseInstanceNode('a', 'x', curatorInstance('[fd00::5]', 20880, {})).endpoints, [{ protocol: 'dubbo', port: 20880 }]);
    assert.equal(parseInstanceNode('a', 'x', curatorInstance('[fd00::5]', 20880, {})).host, 'fd00::5');
  });

  it('refuses what is not an instance, saying why', () => {
    const cases: [Buffer | undefined, RegExp][] = [
      [undefined, /no data/],
      [Buffer.from(''), /no data/],
      [Buffer.from('not json'), /not JSON/],
      [Buffer.from('42'), /not a JSON object/],
      [Buffer.from('{"port":1}'), /no address/],
      [curatorInstance('10.0.0.1', 0, {}), /no usable port/],
      [curatorInstance('10.0.0.1', 20880, { 'dubbo.endpoints': '[{' }), /dubbo.endpoints is not JSON/],
      [curatorInstance('10.0.0.1', 20880, { 'dubbo.endpoints': '[{"port":70000,"protocol":"dubbo"},{"port":1,"protocol":"BAD PROTO"}]' }), /no usable protocol/],
      [Buffer.alloc(MAX_INSTANCE_DATA + 1, 0x20), /over/],
    ];
    for (const [data, reason] of cases) assert.throws(() => parseInstanceNode('a', 'n', data), (e: Error) => e instanceof ProviderUrlError && reason.test(e.message), String(reason));
  });

  it('mapping nodes: applications, trimmed, deduplicated, junk dropped', () => {
    assert.deepEqual(parseMapping(Buffer.from('order-app, billing.app,order-app,,bad name,/x')), ['billing.app', 'order-app']);
    assert.deepEqual(parseMapping(undefined), []);
    assert.equal(isApplicationName('greeter-provider'), true);
    assert.equal(isApplicationName('a/b'), false);
  });

  it('an instance with remote metadata names its revision; with local metadata it does not', () => {
    const remote = curatorInstance('10.1.0.5', 20880, { 'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"}]', 'dubbo.metadata.revision': 'ab12', 'dubbo.metadata.storage-type': 'remote' });
    assert.equal(parseInstanceNode('a', 'n', remote).revision, 'ab12');
    const local = curatorInstance('10.1.0.5', 20880, { 'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"}]', 'dubbo.metadata.revision': 'ab12', 'dubbo.metadata.storage-type': 'local' });
    assert.equal(parseInstanceNode('a', 'n', local).revision, undefined);
  });

  it('metadata nodes (MetadataInfo as dubbo-go and Dubbo Java write it): every usable service', () => {
    const info = {
      app: 'order-app',
      revision: 'ab12',
      services: {
        'east/org.example.OrderService:1.0.0:tri': { name: 'org.example.OrderService', group: 'east', version: '1.0.0', protocol: 'tri', port: 50051, path: 'org.example.OrderService', params: { methods: 'get,list', weight: '7', n: 5 } },
        'org.example.Audit:dubbo': { name: 'org.example.Audit', protocol: 'dubbo', params: {} },
        broken: { protocol: 'dubbo' },
      },
    };
    assert.deepEqual(parseMetadataNode(Buffer.from(JSON.stringify(info))), [
      { iface: 'org.example.OrderService', group: 'east', version: '1.0.0', protocol: 'tri', port: 50051, params: { methods: 'get,list', weight: '7' } },
      { iface: 'org.example.Audit', protocol: 'dubbo', params: {} },
    ]);
    for (const [data, reason] of [[undefined, /no data/], [Buffer.from('{'), /not JSON/], [Buffer.from('{"app":"x"}'), /no services/]] as const) {
      assert.throws(() => parseMetadataNode(data), (e: Error) => e instanceof ProviderUrlError && reason.test(e.message));
    }
  });

  it('with metadata: one provider per service of the interface, under its full key, on the port the instance lists', () => {
    const instance = parseInstanceNode('order-app', 'n', curatorInstance('10.1.0.5', 20880, { 'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"},{"port":50051,"protocol":"tri"}]' }));
    const metadata = parseMetadataNode(
      Buffer.from(JSON.stringify({ services: { a: { name: 'org.example.OrderService', group: 'east', version: '1.0.0', protocol: 'tri', port: 1, params: { methods: 'get' } }, b: { name: 'org.example.Other', protocol: 'dubbo' } } })),
    );
    const urls = instanceProviders('org.example.OrderService', instance, metadata);
    assert.deepEqual(
      urls.map((u) => [formatServiceKey(u.key), u.protocol, u.port, u.params['methods'], u.params['application']]),
      [['east/org.example.OrderService:1.0.0', 'tri', 50051, 'get', 'order-app']],
    );
  });

  it('publishes one provider per instance and protocol, under the interface alone', () => {
    const instance = parseInstanceNode('order-app', 'n', curatorInstance('10.1.0.5', 20880, { 'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"},{"port":50051,"protocol":"tri"}]' }));
    const urls = instanceProviders('org.example.OrderService', instance, undefined);
    assert.deepEqual(
      urls.map((u) => [formatServiceKey(u.key), u.protocol, u.host, u.port, u.params['application']]),
      [
        ['org.example.OrderService', 'dubbo', '10.1.0.5', 20880, 'order-app'],
        ['org.example.OrderService', 'tri', '10.1.0.5', 50051, 'order-app'],
      ],
    );
  });
});
