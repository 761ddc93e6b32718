package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

// The ack log persists a queue's ack cursor: the lowest sequence number not
// yet acknowledged (every lower one is). It is append-only, one 16-byte
// entry per cursor move:
//
//	magic  uint32  ackMagic
//	cursor uint64
//	crc    uint32  CRC-32C of magic and cursor
//
// The last valid entry wins; a torn last entry is ignored (the cursor then
// lags, which only means redelivery). When the log grows past
// ackLogCompact it is replaced by a one-entry log (temporary file, fsync,
// rename, directory fsync).
const (
	ackName       = "ack.log"
	ackEntryLen   = 16
	ackMagic      = 0x4b43414c // "LACK"
	ackLogCompact = 4096 * ackEntryLen
)

type ackLog struct {
	dir   string
	files *fileCache
	h     *handle
	size  int64
	sync  bool // fsync on compaction and close
	dirty bool // written since the last fsync
}

func ackEntry(cursor uint64) []byte {
	b := make([]byte, ackEntryLen)
	binary.LittleEndian.PutUint32(b, ackMagic)
	binary.LittleEndian.PutUint64(b[4:], cursor)
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))
	return b
}

// parseAckLog returns the cursor of the last valid entry of b, or 0.
func parseAckLog(b []byte) uint64 {
	var cur uint64
	for ; len(b) >= ackEntryLen; b = b[ackEntryLen:] {
		if binary.LittleEndian.Uint32(b) != ackMagic || crc32.Checksum(b[:12], castagnoli) != binary.LittleEndian.Uint32(b[12:]) {
			continue
		}
		cur = max(cur, binary.LittleEndian.Uint64(b[4:]))
	}
	return cur
}

// newAckLog returns the ack log of the queue in dir, empty. The file is
// created by the first write and opened through files only while used.
func newAckLog(dir string, files *fileCache, sync bool) *ackLog {
	return &ackLog{dir: dir, files: files, h: files.handle(filepath.Join(dir, ackName), os.O_CREATE|os.O_RDWR), sync: sync}
}

// load reads the log and returns the persisted cursor (0 when there is
// none).
func (a *ackLog) load() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(a.dir, ackName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	a.size = int64(len(b)) / ackEntryLen * ackEntryLen
	return parseAckLog(b), nil
}

// write records cursor. It does not fsync: a cursor lost in a machine crash
// only causes redelivery.
func (a *ackLog) write(cursor uint64) error {
	if a.size >= ackLogCompact {
		return a.compact(cursor)
	}
	f, err := a.files.get(a.h)
	if err != nil {
		return fmt.Errorf("write ack log: %w", err)
	}
	_, err = f.WriteAt(ackEntry(cursor), a.size)
	a.files.put(a.h)
	if err != nil {
		return fmt.Errorf("write ack log: %w", err)
	}
	a.size += ackEntryLen
	a.dirty = true
	return nil
}

func (a *ackLog) compact(cursor uint64) error {
	p := filepath.Join(a.dir, ackName)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("compact ack log: %w", err)
	}
	_, err = f.Write(ackEntry(cursor))
	if err == nil && a.sync {
		err = datasync(f)
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err == nil && a.sync {
		err = fsync.Dir(a.dir)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("compact ack log: %w", err)
	}
	a.files.drop(a.h)
	a.h = a.files.handle(p, os.O_CREATE|os.O_RDWR)
	a.size = ackEntryLen
	a.dirty = !a.sync
	return nil
}

// close records cursor unless the log already ends with it, fsyncs what
// was written since the last fsync, and lets the file go.
func (a *ackLog) close(cursor, written uint64) error {
	var err error
	if cursor != written {
		err = a.write(cursor)
	}
	if a.sync && a.dirty && err == nil {
		var f *os.File
		if f, err = a.files.get(a.h); err == nil {
			err = datasync(f)
			a.files.put(a.h)
		}
	}
	return errors.Join(err, a.files.drop(a.h))
}
