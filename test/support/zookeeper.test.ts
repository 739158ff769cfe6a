// The private ZooKeeper helper: it serves, keeps its data across a stop and a start on the same
// port, and is really down while stopped.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fourLetterWord, startZooKeeper, type ZooKeeper } from './zookeeper.ts';

describe('private ZooKeeper', { timeout: 90_000 }, () => {
  let zk: ZooKeeper;
  before(async () => {
    zk = await startZooKeeper();
  });
  after(async () => {
    await zk?.dispose();
  });

  it('serves on its loopback port: ruok, srvr, znodes', async () => {
    assert.equal(await fourLetterWord(zk.port, 'ruok'), 'imok');
    assert.match((await fourLetterWord(zk.port, 'srvr')) ?? '', /Zookeeper version: 3\.8\./);
    await zk.cli('create', '/dubbo-dns-test', 'x');
    await zk.cli('create', '/dubbo-dns-test/a%3Ab', 'y');
    assert.deepEqual(await zk.children('/dubbo-dns-test'), ['a%3Ab']);
    assert.deepEqual(await zk.children('/missing'), []);
  });

  it('stops, then starts again on the same port with the same data', async () => {
    await zk.stop();
    assert.equal(zk.running(), false);
    assert.equal(await fourLetterWord(zk.port, 'ruok'), undefined, 'nothing answers while stopped');
    await zk.start();
    assert.equal(await fourLetterWord(zk.port, 'ruok'), 'imok');
    assert.deepEqual(await zk.children('/dubbo-dns-test'), ['a%3Ab']);
  });
});
