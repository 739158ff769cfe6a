import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { countCpuList, usableCpus } from '../../src/config/usable-cpus.ts';
import { tempDir } from '../wire/helpers.ts';

// `--workers 0` counts the CPUs the cgroup lets us use. Each case is a fake filesystem root holding
// /proc/self/cgroup and /sys/fs/cgroup files, laid out as a container runtime leaves them.

const roots = tempDir('cgroup');
after(() => roots.remove());

let n = 0;
function fakeRoot(files: Record<string, string>): string {
  const root = join(roots.dir, String(n++));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

const V2 = { 'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n' };
const POD = '/kubepods.slice/kubepods-burstable.slice/pod1.slice/cri-abc.scope';

describe('usableCpus: the node has 16 CPUs (affinity)', () => {
  const cases: Record<string, { files: Record<string, string>; want: number }> = {
    'no cgroup information at all': { files: {}, want: 16 },
    'cgroup v2 in a cgroup namespace, no limit': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n' }, want: 16 },
    'cgroup v2, limit 2 CPUs': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '200000 100000\n' }, want: 2 },
    'cgroup v2, limit 1.5 CPUs rounds down': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '150000 100000\n' }, want: 1 },
    'cgroup v2, limit 0.2 CPUs is still 1': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '20000 100000\n' }, want: 1 },
    'cgroup v2, host path: the pod slice limits, the container does not': {
      files: { ...V2, 'proc/self/cgroup': `0::${POD}\n`, [`sys/fs/cgroup${POD}/cpu.max`]: 'max 100000\n', 'sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/pod1.slice/cpu.max': '300000 100000\n' },
      want: 3,
    },
    'cgroup v2, the tightest level wins': {
      files: { ...V2, 'proc/self/cgroup': `0::${POD}\n`, [`sys/fs/cgroup${POD}/cpu.max`]: '400000 100000\n', 'sys/fs/cgroup/kubepods.slice/cpu.max': '200000 100000\n' },
      want: 2,
    },
    'cgroup v2, host path absent from the namespaced mount: its root counts': {
      files: { ...V2, 'proc/self/cgroup': `0::${POD}\n`, 'sys/fs/cgroup/cpu.max': '400000 100000\n' },
      want: 4,
    },
    'cgroup v2, cpuset of 3 CPUs and no quota': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n', 'sys/fs/cgroup/cpuset.cpus.effective': '2-3,7\n' }, want: 3 },
    'cgroup v2, cpuset and quota: the smaller': { files: { ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '500000 100000\n', 'sys/fs/cgroup/cpuset.cpus.effective': '0-3\n' }, want: 4 },
    'cgroup v1, quota 4 CPUs': {
      files: { 'proc/self/cgroup': '4:cpu,cpuacct:/\n3:cpuset:/\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '400000\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' },
      want: 4,
    },
    'cgroup v1, no quota (-1)': {
      files: { 'proc/self/cgroup': '4:cpu,cpuacct:/\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n', 'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n' },
      want: 16,
    },
    'cgroup v1 (hybrid), separate cpu mount, cpuset': {
      files: { 'proc/self/cgroup': '3:cpuset:/\n1:cpu:/\n0::/\n', 'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', 'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n', 'sys/fs/cgroup/cpuset/cpuset.cpus': '0-5\n' },
      want: 6,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    test(name, () => assert.equal(usableCpus(fakeRoot(c.files), 16), c.want));
  }
  test('the affinity bounds a looser cgroup', () => {
    assert.equal(usableCpus(fakeRoot({ ...V2, 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '800000 100000\n' }), 2), 2);
  });
});

test('countCpuList reads cpuset lists and refuses garbage', () => {
  assert.equal(countCpuList('0'), 1);
  assert.equal(countCpuList('0-3,8,10-11\n'), 7);
  assert.equal(countCpuList(''), undefined);
  assert.equal(countCpuList('3-1'), undefined);
  assert.equal(countCpuList('a-b'), undefined);
});
