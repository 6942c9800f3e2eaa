/** Every example cluster file in the repository validates. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadClusterFile } from '../../src/config/load.ts';

const dir = join(import.meta.dirname, '..', '..', 'examples');

test('every file in examples/ validates', async () => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const loaded = await loadClusterFile(join(dir, f));
    assert.ok(Object.keys(loaded.config.services).length > 0, f);
  }
});
