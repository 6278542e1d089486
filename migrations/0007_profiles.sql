-- Certificate profiles (draft-ietf-acme-profiles §4): the profile an order was created under,
-- named in newOrder's `profile` or the configured acme.defaultProfile, and applied when the order
-- is finalized (validity, key usages, subject). NULL: the order predates profiles, or none are
-- configured; it is issued with the built-in server/device profile.
ALTER TABLE orders ADD COLUMN profile text;
