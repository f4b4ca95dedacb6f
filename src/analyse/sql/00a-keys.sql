-- reads: -
-- writes: -
-- Correlation keys as two 64-bit hashes of the same fields, combined in opposite orders: ASOF joins on two BIGINTs
-- run several times faster than on six mixed columns, and a false match would need both to collide at once (the
-- analysis already trusts one 64-bit payload hash for "identical bytes"; docs/architecture.md, Correlation).
CREATE OR REPLACE TEMP MACRO key_a(a, b, c, d, e, f) AS hash(a, b, c, d, e, f);
CREATE OR REPLACE TEMP MACRO key_b(a, b, c, d, e, f) AS hash(f, e, d, c, b, a);
