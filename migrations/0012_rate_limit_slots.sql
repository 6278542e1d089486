-- Taking rate-limit slots inside the statement they guard (sa/rate-limits.ts). A new order
-- took its ordersPerAccount slot in one statement and was inserted in a second; finalize took
-- its certificatesPerName slots, then claimed the order: two round trips and two commits per
-- certificate that only counted. The statements that create an order and claim one for
-- issuance now call this function, so the count and the write commit together, in one round
-- trip, or not at all.
--
-- One slot of p_limit in the window p_window_start for every key, all or none: each slot is the
-- guarded upsert of 0006 (the WHERE makes check and increment one atomic step, so concurrent
-- requests on any instance never overshoot); a full key raises, which undoes the statement
-- that called this, the slots it took already included. The error is raise_exception (P0001)
-- with message 'rate limit reached' and the full key as its detail. The caller passes the keys
-- sorted, so that two statements taking overlapping keys lock their rows in one order.
CREATE FUNCTION take_rate_limit_slots(p_keys text[], p_window_start timestamptz, p_limit integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  k text;
BEGIN
  FOREACH k IN ARRAY p_keys LOOP
    INSERT INTO rate_limits (key, window_start, count) VALUES (k, p_window_start, 1)
    ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
    WHERE rate_limits.count < p_limit;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'rate limit reached' USING ERRCODE = 'raise_exception', DETAIL = k;
    END IF;
  END LOOP;
  RETURN true;
END
$$;
