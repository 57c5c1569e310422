-- What a refused certificate offered: its principals when its signature checked out (the
-- identity and serial columns hold its key id and serial), else its key id, serial and
-- principals as the client wrote them (masked; never in the identity column).
ALTER TABLE auth_events ADD COLUMN principals TEXT;
ALTER TABLE auth_events ADD COLUMN offered TEXT;
