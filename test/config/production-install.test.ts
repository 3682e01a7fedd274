import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { projectRoot } from '../../src/config/paths.js';

const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>; devDependencies: Record<string, string>;
};

/** Static imports (`import … from 'x'`, `export … from 'x'`, `import 'x'`) that survive compilation:
 * `import type` is erased and `import('x')` loads only when it runs. */
const STATIC_IMPORT = /^\s*(?:import|export)\s(?!type\s)(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm;

/** Every package a module loads at start, following our own static imports from `entry`. */
function staticPackages(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (specifier!.startsWith('.')) visit(path.resolve(path.dirname(file), specifier!.replace(/\.js$/, '.ts')));
      else if (!specifier!.startsWith('node:')) packages.add(specifier!.split('/').slice(0, specifier!.startsWith('@') ? 2 : 1).join('/'));
    }
  };
  visit(entry);
  return packages;
}

describe('production install (npm ci --omit=dev)', () => {
  const loaded = staticPackages(path.join(projectRoot, 'src', 'main.ts'));

  it('starts without any development dependency: tsx and the embedded MongoDB are loaded only when asked for', () => {
    expect(loaded.size).toBeGreaterThan(5); // the walk found the server's real imports
    expect([...loaded].filter((name) => name in pkg.devDependencies)).toEqual([]);
    expect([...loaded].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it('keeps the development tools out of the production dependencies', () => {
    for (const tool of ['tsx', 'mongodb-memory-server', '@jongodb/memory-server-bin-linux-x64-gnu', 'node']) {
      expect(pkg.dependencies).not.toHaveProperty(tool);
      expect(pkg.devDependencies).toHaveProperty(tool);
    }
  });
});
