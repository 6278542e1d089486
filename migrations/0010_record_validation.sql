-- Finishing a validation in one round trip. The steps are those sa/validations.ts ran one
-- statement at a time inside a transaction (five round trips with BEGIN and COMMIT):
--   1. lock the orders that wait on the challenge's authorization, in id order, as every
--      transaction that touches orders and authorizations does: two authorizations of one
--      order finishing at once then cannot both miss the other's result (write skew under
--      READ COMMITTED);
--   2. record the challenge, if it is still processing (else return no row: another instance
--      finished it first), and its authorization, if still pending;
--   3. settle the waiting orders (RFC 8555 §7.1.6): invalid when this authorization failed,
--      ready when all of an order's authorizations are valid and unexpired.
-- The function is VOLATILE, so each statement takes a fresh snapshot, as separate statements
-- did: step 3 sees what a transaction that held the order locks before this one committed.
CREATE FUNCTION record_validation(p_challenge text, p_status text, p_error jsonb, p_validated_at timestamptz, p_authz_expires_at timestamptz, p_now timestamptz)
RETURNS SETOF challenges
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  ch challenges;
BEGIN
  PERFORM 1 FROM orders
  WHERE id IN (SELECT oa.order_id FROM order_authorizations oa JOIN challenges c ON c.authz_id = oa.authz_id WHERE c.id = p_challenge)
  ORDER BY id FOR UPDATE;

  UPDATE challenges SET status = p_status, error = p_error, validated_at = p_validated_at, lease_until = NULL, payload = NULL
  WHERE id = p_challenge AND status = 'processing'
  RETURNING * INTO ch;
  IF NOT FOUND THEN
    RETURN;
  END IF;

  UPDATE authorizations SET status = p_status, expires_at = COALESCE(p_authz_expires_at, expires_at)
  WHERE id = ch.authz_id AND status = 'pending';

  IF p_status = 'invalid' THEN
    UPDATE orders SET status = 'invalid', error = p_error
    WHERE status = 'pending' AND id IN (SELECT order_id FROM order_authorizations WHERE authz_id = ch.authz_id);
  ELSE
    UPDATE orders o SET status = 'ready'
    WHERE o.status = 'pending' AND o.expires_at > p_now
      AND o.id IN (SELECT order_id FROM order_authorizations WHERE authz_id = ch.authz_id)
      AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id
                      WHERE oa.order_id = o.id AND (a.status <> 'valid' OR a.expires_at <= p_now));
  END IF;
  RETURN NEXT ch;
END
$$;
