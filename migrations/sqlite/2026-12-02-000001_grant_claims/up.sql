-- The claims request parameter of the grant (JSON, per target), read by
-- every refresh and by /userinfo; NULL when none was sent.
ALTER TABLE grants ADD COLUMN claims TEXT;
