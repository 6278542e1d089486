-- Revocation (RFC 8555 §7.6), CRLs (RFC 5280 §5) and the OCSP responder's certificate (RFC 6960).
-- certificates already has status, revoked_at and revocation_reason (0001); a revocation sets all
-- three in one guarded UPDATE … WHERE status = 'valid' (src/sa/revocation.ts).

-- A revoked certificate always records its reason (RFC 5280 §5.3.1 codes; 0 = unspecified).
ALTER TABLE certificates ADD CONSTRAINT certificates_revocation_reason_recorded
  CHECK (status <> 'revoked' OR revocation_reason IS NOT NULL);
-- The CRL lists the revoked certificates that have not expired yet.
CREATE INDEX certificates_revoked ON certificates (not_after) WHERE status = 'revoked';

-- The delegated OCSP signing certificate (RFC 6960 §4.2.2.2) is issued by the intermediate like
-- any other certificate, so its serial is recorded before signing too.
ALTER TABLE serials DROP CONSTRAINT serials_purpose_check;
ALTER TABLE serials ADD CONSTRAINT serials_purpose_check CHECK (purpose IN ('acme', 'tls-server', 'ocsp-signer'));

-- The latest CRL of each issuer (RFC 5280 §5), shared by every instance. The row is locked
-- (SELECT … FOR UPDATE) while a new CRL is signed, so instances never sign two CRLs with one
-- number, and crl_number only grows (RFC 5280 §5.2.3). `stale` is set by every revocation, in the
-- revocation's transaction, and cleared by the CRL that includes it; a scheduled check on each
-- instance re-signs a stale or aging CRL.
CREATE TABLE crls (
  issuer_id    text PRIMARY KEY,
  crl_number   bigint NOT NULL DEFAULT 0 CHECK (crl_number >= 0),
  this_update  timestamptz,
  next_update  timestamptz,
  der          bytea,
  stale        boolean NOT NULL DEFAULT true,
  CHECK ((der IS NULL) = (crl_number = 0)),
  CHECK ((der IS NULL) = (this_update IS NULL) AND (der IS NULL) = (next_update IS NULL))
);
