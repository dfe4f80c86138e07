import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { circles, importGraph } from '../../scripts/import-circles.ts';

describe('import circles', () => {
  it('src/ and adapters/ hold no import circle (type imports included)', () => {
    const found = circles(importGraph(['src', 'adapters'])).map((group) => group.map((f) => relative(process.cwd(), f)));
    expect(found).toEqual([]);
  });

  describe('the detector', () => {
    const dir = mkdtempSync(join(tmpdir(), 'circles-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const write = (path: string, text: string) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    };

    it('finds a circle through three files, a type-only import and a re-export among them', () => {
      write('a/one.ts', "import { two } from './two.ts';\nexport const one = two + 1;\n");
      write('a/two.ts', "import type { Three } from '../b/three.ts';\nexport const two: Three = 2;\n");
      write('b/three.ts', "export { one } from '../a/one.ts';\nexport type Three = number;\n");
      write('b/leaf.ts', "import { one } from '../a/one.ts';\nexport const leaf = one;\n");
      const found = circles(importGraph([dir])).map((g) => g.map((f) => relative(dir, f)));
      expect(found).toEqual([['a/one.ts', 'a/two.ts', 'b/three.ts']]);
    });

    it('ignores imports in comments and of packages, and reports none when there is no circle', () => {
      const clean = join(dir, 'clean');
      mkdirSync(clean);
      writeFileSync(join(clean, 'x.ts'), "import { z } from 'zod';\n// import { y } from './y.ts';\nexport const x = z;\n");
      writeFileSync(join(clean, 'y.ts'), "import { x } from './x.ts';\nexport const y = x;\n");
      expect(circles(importGraph([clean]))).toEqual([]);
    });
  });
});
