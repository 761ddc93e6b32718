package sdk

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrPluginNotFound reports that there is no plugin binary at the configured
// path. Retrying does not help until the file is installed or the path
// corrected.
var ErrPluginNotFound = errors.New("not found")

// BinaryError reports a plugin binary that cannot be started as configured:
// it is missing, not a regular file, or does not have the configured
// checksum. It will not heal by retrying; the host should stop trying until
// the file or the configuration changes. Err wraps [ErrPluginNotFound] or
// [ErrChecksumMismatch] when one of them is the reason, so both errors.As
// with a *BinaryError and errors.Is with a sentinel work.
type BinaryError struct {
	// Path is the configured path of the binary.
	Path string
	// Err says what is wrong with it.
	Err error
}

// Error implements error.
func (e *BinaryError) Error() string {
	return fmt.Sprintf("sdk: plugin binary %q: %v", e.Path, e.Err)
}

// Unwrap returns the reason.
func (e *BinaryError) Unwrap() error { return e.Err }

// executable is a plugin binary ready to be started: the path to execute
// and, when it is a file the host holds open, that file, to be closed once
// the process started.
type executable struct {
	path string   // passed to exec
	file *os.File // nil when path is the configured path
}

func (e *executable) close() {
	if e != nil && e.file != nil {
		_ = e.file.Close()
	}
}

// openBinary opens the plugin binary at path for checking.
func openBinary(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &BinaryError{Path: path, Err: ErrPluginNotFound}
		}
		return nil, &BinaryError{Path: path, Err: err}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &BinaryError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &BinaryError{Path: path, Err: errors.New("not a regular file")}
	}
	return f, nil
}

// hashCopy copies src to dst (when not nil) and checks on the way that the
// bytes have the SHA-256 checksum want.
func hashCopy(path string, dst io.Writer, src io.Reader, want []byte) error {
	h := sha256.New()
	w := io.Writer(h)
	if dst != nil {
		w = io.MultiWriter(dst, h)
	}
	if _, err := io.Copy(w, src); err != nil {
		return &BinaryError{Path: path, Err: fmt.Errorf("read: %w", err)}
	}
	got := h.Sum(nil)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return &BinaryError{Path: path, Err: fmt.Errorf("%w: the file's SHA-256 is %s, the configured one %s",
			ErrChecksumMismatch, hex.EncodeToString(got), hex.EncodeToString(want))}
	}
	return nil
}

// checkPresent returns a *BinaryError when there is no regular file at path.
func checkPresent(path string) error {
	f, err := openBinary(path)
	if err != nil {
		return err
	}
	return f.Close()
}
