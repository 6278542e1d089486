-- attestca schema, version 1: the RFC 8555 resources (§7.1) and the CA's issuance records.
-- Identifiers are random text ids chosen by the application; times are timestamptz written from
-- the application's clock so that tests can pin them.

CREATE TABLE accounts (
  id              text PRIMARY KEY,
  -- RFC 7638 JWK thumbprint (SHA-256, base64url): one account per key (RFC 8555 §7.3.1).
  key_thumbprint  text NOT NULL UNIQUE,
  jwk             jsonb NOT NULL,
  contact         jsonb NOT NULL DEFAULT '[]'::jsonb,
  status          text NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
  tos_agreed      boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL,
  created_ip      text
);

-- Anti-replay nonces (RFC 8555 §6.5). Kept in the database so any instance can redeem a nonce
-- that another issued; a redeemed nonce is deleted, so it cannot be redeemed twice.
CREATE TABLE nonces (
  nonce       text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX nonces_expires ON nonces (expires_at);

CREATE TABLE orders (
  id           text PRIMARY KEY,
  account_id   text NOT NULL REFERENCES accounts (id),
  status       text NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  expires_at   timestamptz NOT NULL,
  identifiers  jsonb NOT NULL,
  not_before   timestamptz,
  not_after    timestamptz,
  error        jsonb,
  csr          bytea,
  -- While 'processing', the instance issuing holds the order until lease_until; after a crash
  -- another instance resumes issuance once the lease has run out.
  lease_until  timestamptz,
  created_at   timestamptz NOT NULL,
  CHECK (status <> 'processing' OR (csr IS NOT NULL AND lease_until IS NOT NULL)),
  CHECK (status <> 'invalid' OR error IS NOT NULL)
);
CREATE INDEX orders_account ON orders (account_id, created_at, id);
CREATE INDEX orders_processing ON orders (lease_until) WHERE status = 'processing';

CREATE TABLE authorizations (
  id                text PRIMARY KEY,
  account_id        text NOT NULL REFERENCES accounts (id),
  identifier_type   text NOT NULL CHECK (identifier_type IN ('dns', 'ip', 'permanent-identifier', 'hardware-module')),
  identifier_value  text NOT NULL,
  wildcard          boolean NOT NULL DEFAULT false,
  status            text NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL
);
CREATE INDEX authorizations_account ON authorizations (account_id, identifier_type, identifier_value);

-- Orders and authorizations are many-to-many so that a valid authorization can serve later orders.
CREATE TABLE order_authorizations (
  order_id  text NOT NULL REFERENCES orders (id),
  authz_id  text NOT NULL REFERENCES authorizations (id),
  position  integer NOT NULL,
  PRIMARY KEY (order_id, authz_id)
);
CREATE INDEX order_authorizations_authz ON order_authorizations (authz_id);

CREATE TABLE challenges (
  id            text PRIMARY KEY,
  authz_id      text NOT NULL REFERENCES authorizations (id),
  type          text NOT NULL,
  token         text NOT NULL UNIQUE,
  status        text NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at  timestamptz,
  error         jsonb,
  attempts      integer NOT NULL DEFAULT 0,
  -- While 'processing', one instance runs the validation until lease_until (see orders).
  lease_until   timestamptz,
  UNIQUE (authz_id, type),
  CHECK (status <> 'processing' OR lease_until IS NOT NULL),
  CHECK (status <> 'invalid' OR error IS NOT NULL),
  CHECK (status <> 'valid' OR validated_at IS NOT NULL)
);
CREATE INDEX challenges_processing ON challenges (lease_until) WHERE status = 'processing';

-- Every serial is recorded before anything is signed with it (DESIGN.md, crash-safe issuance):
-- a serial here without a certificate is one whose signing was interrupted.
CREATE TABLE serials (
  serial      text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]+$'),
  order_id    text REFERENCES orders (id),
  purpose     text NOT NULL CHECK (purpose IN ('acme', 'tls-server')),
  created_at  timestamptz NOT NULL
);

CREATE TABLE certificates (
  serial             text PRIMARY KEY REFERENCES serials (serial),
  order_id           text UNIQUE REFERENCES orders (id),
  account_id         text REFERENCES accounts (id),
  der                bytea NOT NULL,
  -- The PEM chain served with the certificate (intermediates, not the root).
  chain_pem          text NOT NULL,
  identifiers        jsonb NOT NULL,
  not_before         timestamptz NOT NULL,
  not_after          timestamptz NOT NULL,
  status             text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at         timestamptz,
  revocation_reason  integer CHECK (revocation_reason BETWEEN 0 AND 10),
  created_at         timestamptz NOT NULL,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX certificates_account ON certificates (account_id);
CREATE INDEX certificates_not_after ON certificates (not_after);
