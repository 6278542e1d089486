-- Nonces are no longer stored when they are handed out (src/acme/nonce.ts): each carries its
-- issue time and an HMAC under a key every instance reads from `secrets`. The database records
-- only redemptions, one row per used nonce until it would have expired, so that a nonce is used
-- once across all instances (RFC 8555 §6.5).

DROP TABLE nonces;

CREATE TABLE secrets (
  name        text PRIMARY KEY,
  value       bytea NOT NULL,
  created_at  timestamptz NOT NULL
);

CREATE TABLE redeemed_nonces (
  nonce       text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX redeemed_nonces_expires ON redeemed_nonces (expires_at);
