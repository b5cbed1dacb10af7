// Ferry's CRIU action script, run as CRIU runs it (sh, CRIU's environment, the image directory
// given as a /proc fd link): it moves the pages aside only at post-dump and only when asked.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installActionScript, PAGES_ASIDE, PAGES_DONE, PAGES_REQUEST } from '../../../agent/criu/action-script.ts';

const scripts = mkdtempSync(join(tmpdir(), 'ferry-action-'));

/** A container directory whose checkpoint holds two pages files and other images. */
function userdata(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-userdata-'));
  mkdirSync(join(dir, 'checkpoint'));
  writeFileSync(join(dir, 'checkpoint', 'pages-1.img'), 'first pages');
  writeFileSync(join(dir, 'checkpoint', 'pages-2.img'), 'second');
  writeFileSync(join(dir, 'checkpoint', 'pagemap-1.img'), 'map');
  return dir;
}

/** Runs the script with the image directory given the way CRIU gives it: an open fd's /proc link. */
async function run(script: string, dir: string, action: string): Promise<void> {
  const images = await open(join(dir, 'checkpoint'), 'r');
  try {
    execFileSync('sh', [script], { env: { PATH: process.env.PATH, CRTOOLS_SCRIPT_ACTION: action, CRTOOLS_IMAGE_DIR: `/proc/${process.pid}/fd/${images.fd}` } });
  } finally {
    await images.close();
  }
}

describe("Ferry's CRIU action script", () => {
  it('is written once and left alone while it is what the agent would write', async () => {
    const path = await installActionScript(scripts);
    expect(path).toBe(join(scripts, 'ferry-criu-action'));
    const text = readFileSync(path, 'utf8');
    expect(await installActionScript(scripts)).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('moves the pages aside at post-dump when the container asked, and says when they are all there', async () => {
    const script = await installActionScript(scripts);
    const dir = userdata();
    writeFileSync(join(dir, PAGES_REQUEST), 'm-1\n');
    await run(script, dir, 'pre-dump');
    expect(existsSync(join(dir, PAGES_ASIDE))).toBe(false);
    await run(script, dir, 'post-dump');
    expect(readdirSync(join(dir, PAGES_ASIDE)).sort()).toEqual([PAGES_DONE, 'pages-1.img', 'pages-2.img']);
    expect(readFileSync(join(dir, PAGES_ASIDE, 'pages-1.img'), 'utf8')).toBe('first pages');
    expect(readdirSync(join(dir, 'checkpoint'))).toEqual(['pagemap-1.img']);
  });

  it('leaves every other checkpoint alone', async () => {
    const script = await installActionScript(scripts);
    const dir = userdata();
    await run(script, dir, 'post-dump');
    expect(existsSync(join(dir, PAGES_ASIDE))).toBe(false);
    expect(readdirSync(join(dir, 'checkpoint')).sort()).toEqual(['pagemap-1.img', 'pages-1.img', 'pages-2.img']);
  });
});
