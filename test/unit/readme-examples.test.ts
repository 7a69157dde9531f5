import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/** The repository, from dist/test/unit. */
const ROOT = new URL('../../../', import.meta.url);

/** README code blocks that open with `// <path under examples/>`: excerpts of a file that is built and tested. */
function exampleBlocks(readme: string): { path: string; code: string }[] {
  return [...readme.matchAll(/^```ts\n\/\/ (examples\/\S+)\n([\s\S]*?)\n```$/gm)].map(([, path, code]) => ({
    path,
    code,
  }));
}

/** Whether `excerpt` is in `text` line for line, at one indentation (a README excerpt is dedented). */
function contains(text: string, excerpt: string): boolean {
  const lines = text.split('\n');
  const wanted = excerpt.split('\n');
  return lines.some((first, start) => {
    const indent = first.slice(0, first.length - first.trimStart().length);
    return wanted.every((line, k) => lines[start + k] === (line === '' ? '' : indent + line));
  });
}

describe('the README', () => {
  it('shows the example saga as it is in examples/, word for word', () => {
    const blocks = exampleBlocks(readFileSync(new URL('README.md', ROOT), 'utf8'));
    assert.ok(blocks.length > 0, 'no README block names a file under examples/');
    const stale = blocks.filter(
      ({ path, code }) => !contains(readFileSync(new URL(path, ROOT), 'utf8'), code),
    );
    assert.deepEqual(
      stale.map((block) => block.path),
      [],
      'these README blocks differ from their files',
    );
  });
});
