-- External account binding (RFC 8555 §7.3.4): the MAC keys an operator hands out
-- (`attestca eab create`), and which ACME accounts each one bound.

CREATE TABLE eab_keys (
  key_id      text PRIMARY KEY,
  -- The HMAC key itself: checking a MAC needs the key, a hash of it would not do. It is shown
  -- once, when created, and never logged.
  hmac_key    bytea NOT NULL CHECK (octet_length(hmac_key) >= 32),
  -- false: the key binds one account and is then used up; true: any number of accounts.
  reusable    boolean NOT NULL,
  note        text,
  -- Accounts bound so far; moved by a guarded UPDATE so that a single-use key cannot bind two
  -- accounts even when two newAccount requests race (the CHECK is the last line of defence).
  uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
  created_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  CHECK (reusable OR uses <= 1)
);

CREATE TABLE eab_bindings (
  account_id  text PRIMARY KEY REFERENCES accounts (id),
  key_id      text NOT NULL REFERENCES eab_keys (key_id),
  -- The binding JWS as the client sent it: the account object repeats it (RFC 8555 §7.3.4).
  jws         jsonb NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX eab_bindings_key ON eab_bindings (key_id, created_at);
