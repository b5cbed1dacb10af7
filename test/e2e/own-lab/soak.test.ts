// A short seeded campaign of random faults (scripts/campaign/campaign.ts; npm run soak runs long
// ones): every round ends with one answering copy, nothing elsewhere, every journal settled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../../scripts/campaign/campaign.ts';

describe('a seeded campaign of random faults', () => {
  it('seed 2026, four rounds on three hosts: one answering copy after every move, nothing left elsewhere', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'ferry-soak-'));
    try {
      const results = await runCampaign({ lab: 'ferrysoakt', subnet: '172.31.97', hosts: 3, rounds: 4, seed: 2026, keys: 5_000, outDir });
      expect(results.map((r) => (r.ok ? 'ok' : `round ${r.round} (${r.fault} at ${r.moment}): ${r.problem}`))).toEqual(['ok', 'ok', 'ok', 'ok']);
      // The seed draws faults that strike: the campaign is not four quiet moves.
      expect(results.some((r) => r.struck)).toBe(true);
    } finally {
      rmSync(outDir, { recursive: true, force: true }); // each move's output, kept only for the run
    }
  }, 600_000);
});
