-- Where the recording is kept once the bastion's spool has handed it to the object store
-- (`[recording] store`): its s3:// address. NULL while it is only in the spool, and for
-- bastions without a store.
ALTER TABLE channels ADD COLUMN recording_url TEXT;
CREATE INDEX channels_recording_path ON channels (recording_path);
