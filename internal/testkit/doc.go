// Package testkit holds the test helpers every package shares, written
// once: the simulated clock (Clock), the real-Phorge lab's settings
// (Lab, LoadLabEnv) and a goroutine-safe log buffer (SyncBuffer).
//
// The helpers come in three packages, by what they import, so that no
// test meets an import cycle:
//
//   - testkit imports nothing of auditbot's: every package's tests can use
//     it, internal ones (package bot, package phabtest, package conduit)
//     included;
//   - testkit/testworld seeds the in-process Phabricator (the bot's admin
//     account, the approvers, the team, the groups), writes the usual
//     config and opens state files. It imports phabtest, conduit,
//     campaigns and state, not bot, so that the packages bot imports
//     (activity) can use it in their tests too;
//   - testkit/testbot wires a bot.Bot to a testworld.World, for the tests
//     outside package bot (bot_test, and any test that runs the engine).
//
// A helper that imported bot could not serve bot's internal tests; those
// take testkit's clock and buffer and build what they need themselves.
//
// The production binary links none of this: cmd/auditbot's test checks
// that `go list -deps ./cmd/auditbot` names no testkit package.
package testkit
