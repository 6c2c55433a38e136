//! A fake Mastodon server on loopback that behaves like the real one
//! (`shared/reference/mastodon-api.md`). SKELETON: being written.
