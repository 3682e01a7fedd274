import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pages = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The page's prose: fenced code blocks and inline code spans hold no links. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  }).map((line) => line.replace(/`[^`]*`/g, ''));
}

/** GitHub's heading anchors: the heading's text, lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(markdown.replace(/^(#{1,6} .*)$/gm, (heading) => heading.replace(/`/g, '')))) {
    const heading = /^#{1,6} (.+)$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').trim();
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Every relative link target of a page (external URLs are not ours to check here). */
function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const line of prose(markdown)) {
    for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

const read = (page: string) => readFileSync(path.join(root, page), 'utf8');

describe('the documentation', () => {
  it('has the README and a page per topic', () => {
    for (const page of ['integrate', 'admin-api', 'refresh-tokens', 'signing-keys', 'account-center', 'self-service', 'operations', 'security', 'architecture', 'benchmarks']) {
      expect(pages).toContain(`docs/${page}.md`);
    }
  });

  it('keeps the README short enough to read in minutes', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(250);
  });

  it.each(pages)('%s: every relative link and anchor resolves', (page) => {
    const markdown = read(page);
    const broken: string[] = [];
    for (const link of relativeLinks(markdown)) {
      const [file = '', anchor] = link.split('#');
      const target = file === '' ? page : path.posix.join(path.posix.dirname(page), file);
      if (!existsSync(path.join(root, target))) { broken.push(`${link}: no file ${target}`); continue; }
      if (anchor !== undefined && target.endsWith('.md') && !anchors(read(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });
});

describe('heading anchors', () => {
  it('follow GitHub: punctuation dropped, code marks removed, duplicates numbered', () => {
    const found = anchors('# JWT access tokens: offline verification vs. introspection\n## `PORT` in use\n## Figures\n## Figures\n```\n# not a heading\n```\n');
    expect([...found]).toEqual(['jwt-access-tokens-offline-verification-vs-introspection', 'port-in-use', 'figures', 'figures-1']);
  });
});
