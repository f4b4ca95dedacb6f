-- reads: -
-- writes: -
-- Correlation keys as two 64-bit hashes of the same fields, combined in opposite orders: ASOF joins on two BIGINTs
-- run several times faster than on six mixed columns, and a false match would need both to collide at once (the
-- analysis already trusts one 64-bit payload hash for "identical bytes"; docs/architecture.md, Correlation).
CREATE OR REPLACE TEMP MACRO key_a(a, b, c, d, e, f) AS hash(a, b, c, d, e, f);
CREATE OR REPLACE TEMP MACRO key_b(a, b, c, d, e, f) AS hash(f, e, d, c, b, a);
-- What ties a backend's answer to a request (05, 05a, 05e): the request's hash where the backend's observer named the
-- request each answer replies to (by_hash), else the protocol's match key; one definition for both sides.
CREATE OR REPLACE TEMP MACRO request_corr(by_hash, payload_hash, match_key) AS CASE WHEN by_hash THEN payload_hash ELSE hash(coalesce(match_key, '')) END;
CREATE OR REPLACE TEMP MACRO answer_corr(reply_to_hash, match_key) AS coalesce(reply_to_hash, hash(coalesce(match_key, '')));
