// Package fsync makes changes to a directory durable: the queue store, the
// dead-letter and state files, the launch store and the archive sink all
// fsync a directory after creating, renaming or removing entries in it.
package fsync
