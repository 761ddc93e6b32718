package sdk

import (
	"bytes"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// execCache keeps the sealed copy of each verified plugin binary, by path,
// for later launches (see [Launcher]). The zero value is ready to use.
type execCache struct {
	mu     sync.Mutex
	byPath map[string]*sealedExe
	closed bool
}

// sealedExe is a verified sealed copy of the binary at a path.
type sealedExe struct {
	sum  []byte
	id   fileID   // the identity of the file that was copied
	file *os.File // read-only descriptor of the sealed memory file
}

// fileID tells whether a file may have changed: a file replaced (renamed
// over, recreated) gets another device or inode; one written to gets new
// modification and change times, and the change time cannot be set back.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

func identify(f *os.File) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), size: int64(st.Size), mtime: st.Mtim, ctime: st.Ctim}, nil
}

// prepare returns what to execute for the plugin binary at path.
//
// Without a checksum it is path itself. With one, the bytes executed must be
// the bytes verified, even if the file is replaced or written to between the
// check and the start. So the binary is copied, and hashed on the way, into
// a sealed memory file (memfd: no further writes, growth or shrinking are
// possible) and the process is started from that copy through
// /proc/self/fd. Hashing the open file and executing it through its
// descriptor would stop a swapped file but not one written in place; the
// sealed copy stops both. The copy is kept for the next launch of the same
// path and checksum, which uses it while the file keeps its identity
// (fileID) instead of reading and hashing the file again; every process
// started from it shares its memory. Where memory files cannot be executed,
// the open file is hashed and executed through its descriptor instead.
func (c *execCache) prepare(path string, sum []byte) (*executable, error) {
	if len(sum) == 0 {
		if err := checkPresent(path); err != nil {
			return nil, err
		}
		return &executable{path: path}, nil
	}
	src, err := openBinary(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	// The identity is taken before the bytes are read: a write during
	// the copy changes the file's times, and the next launch checks the
	// file again.
	id, idErr := identify(src)
	if idErr == nil {
		if exe := c.reuse(path, sum, id); exe != nil {
			return exe, nil
		}
	}
	mem, err := sealedCopy(path, src, sum)
	if err == nil {
		if idErr == nil {
			c.keep(path, sum, id, mem.file)
		}
		return mem, nil
	}
	if !isMemfdUnavailable(err) {
		return nil, err
	}
	// No executable memory files: run the descriptor that was hashed.
	if _, err := src.Seek(0, 0); err != nil {
		return nil, &BinaryError{Path: path, Err: err}
	}
	if err := hashCopy(path, nil, src, sum); err != nil {
		return nil, err
	}
	dup, err := os.Open(fdPath(src))
	if err != nil {
		return nil, &BinaryError{Path: path, Err: err}
	}
	return &executable{path: fdPath(dup), file: dup}, nil
}

// reuse returns the kept copy of the binary at path if it was verified
// against sum and the file still has identity id, or nil.
func (c *execCache) reuse(path string, sum []byte, id fileID) *executable {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byPath[path]
	if e == nil || e.id != id || !bytes.Equal(e.sum, sum) {
		return nil
	}
	f, err := dupFile(e.file)
	if err != nil {
		return nil
	}
	return &executable{path: fdPath(f), file: f}
}

// keep remembers mem, the sealed copy of the file at path with identity id,
// verified against sum, replacing the copy kept before.
func (c *execCache) keep(path string, sum []byte, id fileID, mem *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	f, err := dupFile(mem)
	if err != nil {
		return
	}
	if old := c.byPath[path]; old != nil {
		_ = old.file.Close()
	}
	if c.byPath == nil {
		c.byPath = map[string]*sealedExe{}
	}
	c.byPath[path] = &sealedExe{sum: bytes.Clone(sum), id: id, file: f}
}

// close releases the kept copies; later launches keep nothing.
func (c *execCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, e := range c.byPath {
		_ = e.file.Close()
	}
	c.byPath = nil
}

// dupFile returns a new close-on-exec descriptor of the file f refers to.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// memfdUnavailable marks a failure to create an executable memory file.
type memfdUnavailable struct{ err error }

func (e memfdUnavailable) Error() string { return "memfd: " + e.err.Error() }

func isMemfdUnavailable(err error) bool {
	_, ok := err.(memfdUnavailable)
	return ok
}

func sealedCopy(path string, src *os.File, sum []byte) (*executable, error) {
	fd, err := unix.MemfdCreate("lrsbridge-plugin", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		// Kernels before 6.3 do not know MFD_EXEC.
		fd, err = unix.MemfdCreate("lrsbridge-plugin", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, memfdUnavailable{err}
	}
	mem := os.NewFile(uintptr(fd), "lrsbridge-plugin")
	defer mem.Close()
	if err := hashCopy(path, mem, src, sum); err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS,
		unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return nil, memfdUnavailable{err}
	}
	// Execute a read-only descriptor: some kernels refuse to execute a file
	// open for writing.
	ro, err := os.Open(fdPath(mem))
	if err != nil {
		return nil, memfdUnavailable{err}
	}
	return &executable{path: fdPath(ro), file: ro}, nil
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }
