package sdk

import (
	"errors"
	"io"
	"os"
)

// MaxSettingFileBytes is the default size limit of [ReadSettingFile]: 1 MiB,
// plenty for PEM certificates and keys.
const MaxSettingFileBytes = 1 << 20

// ErrSettingFile is the error of [ReadSettingFile] for every file it cannot
// use. It deliberately does not say why (missing, unreadable, not a regular
// file, too large): a setting that an organization admin can enter must not
// tell them which local files exist.
var ErrSettingFile = errors.New("cannot be used: it must name a readable regular file of limited size")

// ReadSettingFile reads the file a configuration setting names (a CA
// bundle, a client certificate...), bounded in kind and size: it opens the
// file without blocking (so a FIFO cannot stall the sink), accepts only a
// regular file, and reads at most limit bytes (MaxSettingFileBytes when
// limit is zero or less). Every failure is [ErrSettingFile], so that the
// answer reveals nothing about other local files.
func ReadSettingFile(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxSettingFileBytes
	}
	if path == "" {
		return nil, ErrSettingFile
	}
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, ErrSettingFile
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, ErrSettingFile
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil || int64(len(b)) > limit {
		return nil, ErrSettingFile
	}
	return b, nil
}

// CheckSettingPath checks a path that a setting names for a sink to write
// to or create files in: when it exists it must be of kind want (a regular
// file, or a directory when dir is true), never a FIFO, device or socket.
// A path that does not exist passes: the sink creates it. The error is
// [ErrSettingPath] whatever the reason.
func CheckSettingPath(path string, dir bool) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return ErrSettingPath
	case dir && !fi.IsDir(), !dir && !fi.Mode().IsRegular():
		return ErrSettingPath
	}
	return nil
}

// ErrSettingPath is the error of [CheckSettingPath]. Like [ErrSettingFile]
// it does not say why the path cannot be used.
var ErrSettingPath = errors.New("cannot be used: it must name a regular file or directory that this server may use")
