package sdk

import "os"

// handshakeStdout is the process's real standard output, set aside for the
// handshake line, when the process was started by a host. Nil otherwise.
//
// The stdout of a plugin process carries the go-plugin handshake; a stray
// print before it (in an init function, or while main builds its Provider)
// would break it. So when this package initializes in a process started as a
// plugin, which is before the init functions and main of the plugin's own
// package run, file descriptor 1 is pointed at standard error and the real
// stdout is kept here. Serve hands it to go-plugin for the handshake line
// only; go-plugin then redirects os.Stdout into a pipe whose content the
// host logs.
var handshakeStdout *os.File

// stdoutToStderr is file descriptor 1 once it points at standard error, nil
// when it does not. Serve makes it os.Stdout again after go-plugin's
// handshake (see rerouteStdout).
var stdoutToStderr *os.File

func init() {
	if os.Getenv(magicCookieKey) != magicCookieValue {
		return
	}
	if os.Getenv(hostPidEnv) != "" {
		setParentDeathSignal()
	}
	fd, err := redirectStdout()
	if err != nil {
		return
	}
	handshakeStdout = os.NewFile(uintptr(fd), "stdout")
	stdoutToStderr = os.Stdout
}
