//go:build unix

package safefile

import "syscall"

// nonBlocking makes open(2) return at once on a named pipe with no writer
// (and keeps a terminal device from becoming the controlling terminal).
// On a regular file or a directory it changes nothing that is read.
const nonBlocking = syscall.O_NONBLOCK | syscall.O_NOCTTY
