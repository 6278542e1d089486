-- Rate limits (RFC 8555 §6.6) shared by every instance on the database: one row per limited
-- thing (key, e.g. "orders:acct:<id>") and fixed window. A slot is taken with one guarded
-- INSERT … ON CONFLICT DO UPDATE … WHERE count < limit, so concurrent requests on any number
-- of instances never take more slots than the limit (sa/rate-limits.ts).

CREATE TABLE rate_limits (
  key           text NOT NULL,
  window_start  timestamptz NOT NULL,
  count         integer NOT NULL CHECK (count >= 1),
  PRIMARY KEY (key, window_start)
);
-- Old windows are swept by window_start.
CREATE INDEX rate_limits_window ON rate_limits (window_start);

-- The pending-authorizations cap counts an account's pending authorizations.
CREATE INDEX IF NOT EXISTS authorizations_account_pending ON authorizations (account_id, expires_at) WHERE status = 'pending';
