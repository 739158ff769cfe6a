// The controller's view of a registry mirror (controller/registered.ts) and how registered
// providers become a key's endpoints (source/declared.ts), with a fake mirror in place of ZooKeeper.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { RegisteredProviders, refusedByEndpointSlices, type RegistryMirror } from '../../src/controller/registered.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { parseProviderUrl, type ProviderUrl } from '../../src/dubbo/provider-url.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { declareKey } from '../../src/source/declared.ts';
import { providerEndpoint } from '../../src/source/provider-services.ts';
import type { MirrorState } from '../../src/zookeeper/mirror.ts';

class FakeMirror implements RegistryMirror {
  current: MirrorState = 'connecting';
  readonly nodes = new Map<string, { url: ProviderUrl }[]>();
  #change: ((interfaces: readonly string[]) => void) | undefined;
  #state: ((state: MirrorState) => void) | undefined;
  state = (): MirrorState => this.current;
  interfaces = (): Iterable<string> => this.nodes.keys();
  byInterface = (iface: string): readonly { url: ProviderUrl }[] => this.nodes.get(iface) ?? [];
  onChange(listener: (interfaces: readonly string[]) => void): void {
    this.#change = listener;
  }
  onState(listener: (state: MirrorState) => void): void {
    this.#state = listener;
  }
  start = (): Promise<void> => Promise.resolve();
  stop = (): Promise<void> => Promise.resolve();
  set(iface: string, urls: readonly string[]): void {
    this.nodes.set(iface, urls.map((u) => ({ url: parseProviderUrl(u) })));
    this.#change?.([iface]);
  }
  become(state: MirrorState): void {
    this.current = state;
    this.#state?.(state);
  }
}

function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

const IFACE = 'org.example.OrderService';
const url = (host: string, extra = ''): string => `dubbo://${host}:20880/${IFACE}?interface=${IFACE}&side=provider${extra}`;

describe('RegisteredProviders', () => {
  it('files providers by the Service name they declare and names what each change touched', () => {
    const mirror = new FakeMirror();
    const touched: string[][] = [];
    const states: MirrorState[] = [];
    const { log } = capture();
    const registered = new RegisteredProviders(mirror, 'shop', log, (names) => touched.push([...names].sort()), (s) => states.push(s));
    const plain = `shop/${serviceLabel(serviceKey(IFACE))}`;
    const v2 = `shop/${serviceLabel(serviceKey(IFACE, undefined, '2.0'))}`;
    assert.equal(registered.synced, false);
    mirror.set(IFACE, [url('10.0.0.1'), url('10.0.0.2', '&version=2.0')]);
    assert.deepEqual(touched.pop(), [plain, v2].sort());
    assert.deepEqual(registered.providers(plain).map((r) => r.endpoint.address), ['10.0.0.1']);
    assert.deepEqual([...registered.names()].sort(), [plain, v2].sort());
    // The 2.0 provider leaves: its name is touched (to be pruned), and no longer filed.
    mirror.set(IFACE, [url('10.0.0.1')]);
    assert.deepEqual(touched.pop(), [plain, v2].sort());
    assert.deepEqual(registered.providers(v2), []);
    assert.deepEqual([...registered.names()], [plain]);
    mirror.become('synced');
    assert.equal(registered.synced, true);
    mirror.become('disconnected');
    assert.equal(registered.synced, false);
    assert.deepEqual(states, ['synced', 'disconnected']);
  });

  it('leaves out what cannot be an endpoint (not an IP address, a bad weight, an address an EndpointSlice cannot hold), logging each once while it stays', () => {
    const mirror = new FakeMirror();
    const { log, lines } = capture();
    const registered = new RegisteredProviders(mirror, 'shop', log, () => undefined, () => undefined);
    const name = `shop/${serviceLabel(serviceKey(IFACE))}`;
    mirror.set(IFACE, [url('127.0.0.1'), url('10.0.0.1')]);
    mirror.set(IFACE, [url('127.0.0.1'), url('10.0.0.1'), url('[fe80::1]'), url('provider.example.com'), url('10.0.0.3', '&weight=70000')]);
    assert.deepEqual(registered.providers(name).map((r) => r.endpoint.address), ['10.0.0.1']);
    const told = lines.filter((l) => l['msg'] === 'registered provider not published').map((l) => `${String(l['address'])} ${String(l['namespace'])}`);
    assert.deepEqual(told, ['127.0.0.1:20880 shop', 'fe80::1:20880 shop', 'provider.example.com:20880 shop', '10.0.0.3:20880 shop']);
    const reasons = lines.filter((l) => l['msg'] === 'registered provider not published').map((l) => String(l['reason']));
    assert.match(reasons[2]!, /not an IP address/);
    assert.match(reasons[3]!, /weight/);
    // Gone, then back: told again.
    mirror.set(IFACE, [url('10.0.0.1')]);
    mirror.set(IFACE, [url('127.0.0.1'), url('10.0.0.1')]);
    assert.equal(lines.filter((l) => l['msg'] === 'registered provider not published').length, 5);
  });

  it('refusedByEndpointSlices: loopback, unspecified and link-local, in both families', () => {
    for (const host of ['127.0.0.1', '127.9.9.9', '::1', '0.0.0.0', '::', '169.254.1.1', 'fe80::1', '::ffff:127.0.0.1']) assert.ok(refusedByEndpointSlices(host) !== undefined, host);
    for (const host of ['10.0.0.1', '192.0.2.7', 'fd00::1', '2001:db8::1']) assert.equal(refusedByEndpointSlices(host), undefined, host);
  });
});

describe('declareKey with registered providers', () => {
  it('a key only the registry declares: one endpoint per address, no Pod reference, no credential', () => {
    const key = serviceKey(IFACE);
    const registered = [url('10.0.0.2', '&token=s3cret&weight=50'), url('[fd00::2]')].map((u) => ({ key, endpoint: providerEndpoint(parseProviderUrl(u)) }));
    const declared = declareKey('shop', key, [], [], registered);
    assert.ok(declared !== undefined);
    assert.deepEqual(
      declared.endpoints.map((e) => [e.address, e.addressType, e.weight, e.podName, e.ports.map((p) => `${p.protocol}/${p.port}`).join()]),
      [
        ['10.0.0.2', 'IPv4', 50, undefined, 'dubbo/20880'],
        ['fd00::2', 'IPv6', 100, undefined, 'dubbo/20880'],
      ],
    );
    assert.ok(!JSON.stringify(declared).includes('s3cret'));
    assert.equal(declared.disagreements, undefined);
    assert.equal(declareKey('shop', key, [], [], []), undefined);
  });
});
