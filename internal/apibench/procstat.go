package apibench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on every
// architecture Go supports (getconf CLK_TCK).
const clockTick = 10 * time.Millisecond

// processCPU returns the CPU time (user + system, all threads) that process
// pid has used so far, from /proc/<pid>/stat. Throughput on a shared
// machine moves with the neighbours' load; CPU time per request much less,
// so the report shows both.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15 of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("parse /proc/<pid>/stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/<pid>/stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/<pid>/stat: CPU time %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// listenerPID returns the process that listens on 127.0.0.1:port: the
// server devstack started, found through its socket rather than through
// devstack's pid file, which is devstack's business.
func listenerPID(port int) (int, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, fmt.Errorf("find the listener on port %d: %w", port, err)
	}
	inode, err := listeningInode(string(b), port)
	if err != nil {
		return 0, err
	}
	want := "socket:[" + inode + "]"
	procs, err := filepath.Glob("/proc/[0-9]*/fd/*")
	if err != nil {
		return 0, err
	}
	for _, fd := range procs {
		if link, err := os.Readlink(fd); err == nil && link == want {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no process holds the socket listening on 127.0.0.1:%d", port)
}

// listeningInode finds the inode of the socket in LISTEN state on
// 127.0.0.1:port in the text of /proc/net/tcp.
func listeningInode(table string, port int) (string, error) {
	local := fmt.Sprintf("0100007F:%04X", port)
	for line := range strings.SplitSeq(table, "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) >= 10 && f[1] == local && f[3] == "0A" {
			return f[9], nil
		}
	}
	return "", fmt.Errorf("no socket listens on 127.0.0.1:%d", port)
}
