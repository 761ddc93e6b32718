package sdk

import "syscall"

func redirectStdout() (int, error) {
	fd, err := syscall.Dup(1)
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Dup3(2, 1, 0); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}
