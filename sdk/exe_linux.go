package sdk

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// prepareExecutable returns what to execute for the plugin binary at path.
//
// Without a checksum it is path itself. With one, the bytes executed must be
// the bytes verified, even if the file is replaced or written to between the
// check and the start. So the binary is copied, and hashed on the way, into
// a sealed memory file (memfd: no further writes, growth or shrinking are
// possible) and the process is started from that copy through
// /proc/self/fd. Hashing the open file and executing it through its
// descriptor would stop a swapped file but not one written in place; the
// sealed copy stops both, at the cost of the copy (the binary's size in
// memory while the plugin runs). Where memory files cannot be executed,
// the open file is hashed and executed through its descriptor instead.
func prepareExecutable(path string, sum []byte) (*executable, error) {
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
	mem, err := sealedCopy(path, src, sum)
	if err == nil || !isMemfdUnavailable(err) {
		return mem, err
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
