import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

describe('parameters bound to a statement', () => {
  it('binds a bigint as the narrowest 64-bit type that holds it, so a row computed with it stays 64-bit', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        const [row] = await store.query(
          'SELECT typeof($signed) AS signed, typeof($hash) AS hash, typeof($huge) AS huge, typeof($small) AS small, typeof(1::BIGINT - $signed) AS difference, $hash = 18446744073709551615::UBIGINT AS hash_kept, $signed AS signed_value',
          { signed: -(2n ** 63n), hash: 2n ** 64n - 1n, huge: 2n ** 64n, small: 7 },
        );
        expect(row).toEqual({ signed: 'BIGINT', hash: 'UBIGINT', huge: 'HUGEINT', small: 'INTEGER', difference: 'BIGINT', hash_kept: true, signed_value: -(2n ** 63n) });
      });
    });
  });
});
