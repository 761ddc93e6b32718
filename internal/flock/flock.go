// Package flock is the exclusive lock the queue store and the archive sink
// take on a file of their directory, so that two processes never write
// one directory.
package flock

import "errors"

// ErrHeld means another open file holds the lock: most likely another
// process using the same directory.
var ErrHeld = errors.New("lock held by another process")
