-- ACME Renewal Information (RFC 9773). An order may name the certificate it replaces (§5), by
-- its certID (§4.1: base64url(AKI keyIdentifier) "." base64url(serial)); the server accepts each
-- certificate being replaced by one order that is not invalid. The partial unique index makes
-- that atomic: of two racing newOrder requests for one certificate, the second insert fails and
-- is answered alreadyReplaced (§7.4). An order that stays pending or ready past its expiry is
-- invalid (RFC 8555 §7.1.6) but keeps its stored status; the insert marks such orders invalid in
-- its own transaction first (src/sa/orders.ts), so an abandoned order blocks nobody.
ALTER TABLE orders ADD COLUMN replaces text;
CREATE UNIQUE INDEX orders_replaces_once ON orders (replaces) WHERE replaces IS NOT NULL AND status <> 'invalid';
