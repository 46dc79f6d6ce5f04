//go:build !unix

package bot_test

import "time"

// cpuTime is unknown here: the scale benchmarks report 0 CPU time.
func cpuTime() time.Duration { return 0 }
