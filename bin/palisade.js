#!/usr/bin/env node
// Entry point of the `palisade` command. The sources are TypeScript run through
// Node's type stripping, which needs Node >= 22.18; say so plainly on older ones.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `palisade: needs Node.js >= 22.18 (this is ${process.version}).\n` +
      'Run it through npm (npx palisade ..., npm run demo), which puts the project\'s pinned Node 24 first on PATH.\n',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
