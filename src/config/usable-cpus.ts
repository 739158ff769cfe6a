import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

// How many CPUs this process may really use, for `--workers 0`. A container sees every CPU of its
// node; what it may use is set by its cgroup: a CPU quota (Kubernetes' CPU limit, cgroup v2
// `cpu.max` or v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`) and a cpuset (the static CPU manager,
// `cpuset.cpus.effective`). A worker per node CPU under a small quota would only throttle one another,
// and each costs its own memory against the pod's limit.

/** Reads a file under the filesystem root given (tests pass a fake tree); undefined when absent. */
export type ReadFile = (path: string) => string | undefined;

function readUnder(root: string): ReadFile {
  return (path) => {
    try {
      return readFileSync(join(root, path), 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** The number of CPUs in a cpuset list such as `0-3,8,10-11`; undefined when it does not parse. */
export function countCpuList(list: string): number | undefined {
  const text = list.trim();
  if (text === '') return undefined;
  let n = 0;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    n += hi - lo + 1;
  }
  return n;
}

/** CPUs granted by a quota: whole CPUs, at least 1 (as Go's automaxprocs rounds); undefined = no quota. */
export function quotaCpus(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.floor(quota / period));
}

/** The cgroup path of each controller (v1) or of the unified hierarchy (v2, key ''), from /proc/self/cgroup. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (m === null) continue;
    for (const controller of m[1]!.split(',')) paths.set(controller, m[2]!);
  }
  return paths;
}

/** The cgroup directories from `path` up to the hierarchy's root, the leaf first. */
function lineage(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  const dirs: string[] = [];
  for (let i = parts.length; i >= 0; i--) dirs.push(parts.slice(0, i).join('/'));
  return dirs;
}

/**
 * The smallest limit any level of a hierarchy sets (a parent's quota binds its children too). Without a
 * cgroup namespace the path is the host's and absent from the container's own mount, whose root is
 * then the level that counts: it is the last one looked at.
 */
function tightest(mount: string, path: string, limitAt: (dir: string) => number | undefined): number | undefined {
  let limit: number | undefined;
  for (const dir of lineage(path)) {
    const l = limitAt(join(mount, dir));
    if (l !== undefined) limit = limit === undefined ? l : Math.min(limit, l);
  }
  return limit;
}

/** The CPU limit set by this process's cgroups (quota and cpuset), or undefined when none is set. */
export function cgroupCpuLimit(read: ReadFile): number | undefined {
  const procCgroup = read('proc/self/cgroup');
  if (procCgroup === undefined) return undefined;
  const paths = parseProcCgroup(procCgroup);
  const limits: (number | undefined)[] = [];
  const unified = paths.get('');
  if (unified !== undefined && read('sys/fs/cgroup/cgroup.controllers') !== undefined) {
    const mount = 'sys/fs/cgroup';
    limits.push(
      tightest(mount, unified, (dir) => {
        const [quota, period] = (read(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
        return quota === undefined || quota === 'max' || quota === '' ? undefined : quotaCpus(Number(quota), Number(period ?? 100000));
      }),
    );
    const effective = read(join(mount, unified, 'cpuset.cpus.effective')) ?? read(join(mount, 'cpuset.cpus.effective'));
    limits.push(effective === undefined ? undefined : countCpuList(effective));
  } else {
    const cpuPath = paths.get('cpu');
    const cpuMount = ['sys/fs/cgroup/cpu,cpuacct', 'sys/fs/cgroup/cpu'].find((m) => read(join(m, 'cpu.cfs_period_us')) !== undefined);
    if (cpuPath !== undefined && cpuMount !== undefined) {
      limits.push(tightest(cpuMount, cpuPath, (dir) => quotaCpus(Number(read(join(dir, 'cpu.cfs_quota_us')) ?? -1), Number(read(join(dir, 'cpu.cfs_period_us')) ?? 0))));
    }
    const cpusetPath = paths.get('cpuset');
    if (cpusetPath !== undefined) {
      const cpus = read(join('sys/fs/cgroup/cpuset', cpusetPath, 'cpuset.effective_cpus')) ?? read(join('sys/fs/cgroup/cpuset', cpusetPath, 'cpuset.cpus')) ?? read('sys/fs/cgroup/cpuset/cpuset.cpus');
      limits.push(cpus === undefined ? undefined : countCpuList(cpus));
    }
  }
  const set = limits.filter((l): l is number => l !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

/** CPUs this process may use: its CPU affinity, narrowed by its cgroup's quota and cpuset. At least 1. */
export function usableCpus(root = '/', affinity = availableParallelism()): number {
  const limit = cgroupCpuLimit(readUnder(root));
  return Math.max(1, limit === undefined ? affinity : Math.min(affinity, limit));
}
