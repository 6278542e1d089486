-- device-attest-01 (draft-ietf-acme-device-attest): the evidence a validation rests on, kept
-- with the authorization and linked to the certificates issued on it, so an operator can ask
-- which certificates belong to a device.

-- The challenge response (the attObj text) is kept while the validation runs, so that a
-- validation interrupted by a crash can be run again; it is cleared when the validation ends
-- (the draft's privacy considerations: do not keep the raw statement longer than needed).
ALTER TABLE challenges ADD COLUMN payload text;

CREATE TABLE attestations (
  id                     text PRIMARY KEY,
  authz_id               text NOT NULL UNIQUE REFERENCES authorizations (id),
  challenge_id           text NOT NULL UNIQUE REFERENCES challenges (id),
  -- 'apple', 'step', 'tpm', 'android-key', or 'none' when policy accepted an unattested device.
  format                 text NOT NULL,
  identifier_type        text NOT NULL,
  identifier_value       text NOT NULL,
  -- Every identifier the statement attests (Apple: serial and UDID), for lookups by device.
  attested_identifiers   jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- DER SubjectPublicKeyInfo of the attested key and its SHA-256 (hex); the CSR key must equal it.
  attested_spki          bytea,
  attested_key_sha256    text,
  claims                 jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- The verified chain, leaf first, as base64 DER.
  chain                  jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- SHA-256 of the decoded attestation object: one statement serves one validation.
  statement_sha256       text UNIQUE,
  created_at             timestamptz NOT NULL,
  CHECK ((attested_spki IS NULL) = (attested_key_sha256 IS NULL)),
  CHECK (format = 'none' OR attested_spki IS NOT NULL)
);
CREATE INDEX attestations_identifier ON attestations (identifier_value);
CREATE INDEX attestations_attested ON attestations USING gin (attested_identifiers jsonb_path_ops);

ALTER TABLE certificates ADD COLUMN attestation_id text REFERENCES attestations (id);
CREATE INDEX certificates_attestation ON certificates (attestation_id) WHERE attestation_id IS NOT NULL;
