// Package phabtest is an in-process Phabricator/Phorge: an httptest server
// that speaks the Conduit API the way a real Phorge answers it, as recorded
// in testdata/conduit/recordings and summarised in testdata/conduit/NOTES.md
// (the "facts" cited throughout this package).
//
// It serves the bot's tests and the demo (cmd/auditbot-demo), never the
// production binary. Everything the bot does goes through HTTP, with the
// same transport quirks as the real server: params as JSON with the token
// inside __conduit__ (fact 1), HTTP 200 errors (fact 3), PHP's `[]` for
// empty results (fact 8), id cursors (facts 11-13), policies
// that do not make administrators omnipotent (fact 22), restricted tasks
// silently omitted from searches (fact 23), the members.add quirks (facts
// 30-32). The Go methods on Server are for seeding a fixture and asserting on
// the outcome; fault injection (FailAfterWrite, FailBefore, SetRateLimit)
// lets tests exercise crash recovery and back-off.
//
// Seeding helpers panic on fixture mistakes (duplicate usernames, unknown
// PHIDs), like httptest does on setup errors: they are programming errors in
// a test, not conditions to handle.
package phabtest
