-- What the user could do about a failed job, as data (an `aip_hint::Hint`
-- in JSON): each front end words it in its own terms.
ALTER TABLE jobs ADD COLUMN error_hint TEXT;
