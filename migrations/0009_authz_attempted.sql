-- One validation attempt per authorization (RFC 8555 §7.1.6): the authorization row itself
-- records that one of its challenges was started, so that starting a challenge is one guarded
-- UPDATE of that row (sa/validations.ts) instead of a row lock and a look at the siblings.

ALTER TABLE authorizations ADD COLUMN attempted boolean NOT NULL DEFAULT false;
UPDATE authorizations a SET attempted = true
WHERE EXISTS (SELECT 1 FROM challenges c WHERE c.authz_id = a.id AND c.status <> 'pending');
