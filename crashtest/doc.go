// Package crashtest kills the auditbot binary with SIGKILL before and after
// every write of scripted campaigns (scenarios) run against the in-process
// Phabricator (phabtest), reruns the campaign to completion, and checks
// that nothing was done twice or lost: no duplicate task, comment or
// answer, removals exactly the approved set, a sound state file.
//
// The package holds only tests. `make test` runs a small sample of the
// kill points; `make crash` runs all of them (go test -run TestCrashSweep
// ./crashtest/ -crash.full, or AUDITBOT_CRASH_FULL=1).
package crashtest
