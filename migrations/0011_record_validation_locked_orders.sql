-- record_validation (0010) settles the orders it has locked, found by their ids, instead of
-- finding them again through order_authorizations. Step 3 joined every pending, unexpired
-- order against its authorizations before it kept those that wait on this one: under a plan
-- made while the tables were small (a seq scan of orders), that was 0.3 ms of Postgres CPU per
-- validation, half of the function (auto_explain: 130-190 buffer hits per call). The locked
-- ids are the orders that wait on the authorization: an order links an authorization that is
-- already valid only (sa/orders.ts createOrder), so no order can come to wait on this pending
-- one between step 1 and step 3.
CREATE OR REPLACE FUNCTION record_validation(p_challenge text, p_status text, p_error jsonb, p_validated_at timestamptz, p_authz_expires_at timestamptz, p_now timestamptz)
RETURNS SETOF challenges
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  ch challenges;
  waiting text[];
BEGIN
  SELECT array_agg(id) INTO waiting FROM (
    SELECT id FROM orders
    WHERE id IN (SELECT oa.order_id FROM order_authorizations oa JOIN challenges c ON c.authz_id = oa.authz_id WHERE c.id = p_challenge)
    ORDER BY id FOR UPDATE) locked;

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
    WHERE id = ANY (waiting) AND status = 'pending';
  ELSE
    UPDATE orders o SET status = 'ready'
    WHERE o.id = ANY (waiting) AND o.status = 'pending' AND o.expires_at > p_now
      AND NOT EXISTS (SELECT 1 FROM order_authorizations oa JOIN authorizations a ON a.id = oa.authz_id
                      WHERE oa.order_id = o.id AND (a.status <> 'valid' OR a.expires_at <= p_now));
  END IF;
  RETURN NEXT ch;
END
$$;
