-- The approver group a vote counts for (rules with several groups need one approval from each).
ALTER TABLE approval_votes ADD COLUMN approver_group TEXT;
