import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsStorage } from '../../adapters/storage/fs.ts';
import { describeStorageConformance } from './conformance.ts';

describeStorageConformance('fs', {
  persistent: true,
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-fs-'));
    return {
      // A small checkpoint threshold so that the suite also runs through log rotation and checkpoints.
      open: (options) => createFsStorage({ dir, checkpointLogBytes: 4096, ...options }),
      async dispose() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
