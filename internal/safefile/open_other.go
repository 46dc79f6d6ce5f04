//go:build !unix

package safefile

// nonBlocking: elsewhere the check before the open is all there is.
const nonBlocking = 0
