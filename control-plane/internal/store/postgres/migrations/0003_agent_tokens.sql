-- Agent tokens expire and are renewed. The token replaced by a renewal stays
-- valid for a short grace, so calls sent just before the agent switched still
-- succeed. Agents registered before this have no expiry (NULL).

ALTER TABLE agents ADD COLUMN token_expires_at timestamptz;
ALTER TABLE agents ADD COLUMN prev_token_hash text NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN prev_token_expires_at timestamptz;
