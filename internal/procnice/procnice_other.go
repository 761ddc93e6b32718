//go:build !unix

package procnice

import "os/exec"

func start(cmd *exec.Cmd, _ int) error { return cmd.Start() }
