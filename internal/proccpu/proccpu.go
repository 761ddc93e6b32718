// Package proccpu reads the CPU time a process has used, for the
// benchmarks that report what plugin processes cost.
package proccpu

import (
	"os"
	"strconv"
	"strings"
)

// Seconds returns the CPU seconds (user and system) process pid has used,
// from /proc/<pid>/stat, in clock ticks of 1/100 s (Linux; 0 elsewhere or
// once the process is gone).
func Seconds(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the fields that
	// follow it are counted from its closing parenthesis.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}
