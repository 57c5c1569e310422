-- The masked screen of the requesting session when the request was made (interactive holds).
ALTER TABLE approvals ADD COLUMN screen TEXT;
