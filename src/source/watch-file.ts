import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** A running file watch; `close` stops it. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` (debounced) when `file` may have changed. Watches the directory, not the file:
 * editors and ConfigMap mounts replace files by rename, which ends a watch on the old inode. A slow
 * poll of mtime and size backs up fs.watch where it misses events (network filesystems).
 */
export function watchFile(file: string, onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): FileWatch {
  const debounceMs = options.debounceMs ?? 100;
  const pollMs = options.pollMs ?? 2000;
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  };
  const name = basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // Kubernetes ConfigMap volumes swap a `..data` symlink: any change in the directory counts then.
      if (changed === null || changed === name || changed.startsWith('..')) fire();
    });
    watcher.on('error', () => undefined); // the poll below still notices changes
  } catch {
    watcher = undefined;
  }
  let last = '';
  const poll = setInterval(() => {
    stat(file).then(
      (s) => `${s.mtimeMs}:${s.size}:${s.ino}`,
      () => 'missing',
    ).then((sig) => {
      if (last !== '' && sig !== last) fire();
      last = sig;
    });
  }, pollMs);
  poll.unref();
  return {
    close() {
      watcher?.close();
      clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
