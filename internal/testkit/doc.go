// Package testkit holds the test helpers every package shares, written
// once: the simulated clock (Clock), the real-Phorge lab's settings
// (Lab, LoadLabEnv) and a goroutine-safe log buffer (SyncBuffer).
//
// It imports nothing of auditbot's, so that every package's own tests can
// use it, internal ones (package bot, package phabtest, package conduit)
// included: a helper package that imported bot could not serve bot's
// internal tests, an import cycle. The world builder, which needs
// phabtest, conduit, state and bot, is the subpackage testkit/world, for
// external test packages (package bot_test, crashtest, internal/cli...).
//
// The production binary links none of this: cmd/auditbot's test checks
// that `go list -deps ./cmd/auditbot` names no testkit package.
package testkit
