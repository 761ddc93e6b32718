package archive

import "errors"

var (
	// ErrClosed is returned by Deliver after Close.
	ErrClosed = errors.New("archive: sink closed")
	// ErrLocked is returned when another process has the organization's
	// archive open; one process at a time writes an organization's files.
	ErrLocked = errors.New("archive: locked by another process")
	// ErrCorrupt reports archive content that fails verification: a checksum,
	// size or line count that does not match the manifest, a line that is not
	// a JSON statement, or a manifest that cannot be read. The wrapping error
	// names the file.
	ErrCorrupt = errors.New("archive: corrupt")
	// ErrUnknownOrg is returned by Reader.Replay for an organization that has
	// no archive in the directory.
	ErrUnknownOrg = errors.New("archive: unknown organization")
)
