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

// Linux's USER_HZ: /proc/<pid>/stat and /proc/stat count CPU time in
// 1/100 s on every architecture Go supports (getconf CLK_TCK).
const clockTick = 10 * time.Millisecond

// CPU is CPU time spent while one measurement ran, split by who spent it.
// Throughput on a shared machine moves with the neighbours' load; CPU time
// per request much less, so the report shows both. The split says where a
// difference between the sides comes from: the serving process, the
// database doing more, the load generator, or the rest of the machine
// (the kernel's softirq work for loopback traffic, the stack's other
// processes, neighbours).
type CPU struct {
	Server   time.Duration // the serving process (server or baseline)
	Postgres time.Duration // the stack's PostgreSQL cluster: postmaster and backends
	Client   time.Duration // this process: the load generator
	Machine  time.Duration // every core's busy time, all of the above included
}

// Rest is the machine's busy time not spent by the three measured parties.
func (c CPU) Rest() time.Duration { return c.Machine - c.Server - c.Postgres - c.Client }

func (c CPU) sub(o CPU) CPU {
	return CPU{Server: c.Server - o.Server, Postgres: c.Postgres - o.Postgres, Client: c.Client - o.Client, Machine: c.Machine - o.Machine}
}

func (c CPU) add(o CPU) CPU {
	return CPU{Server: c.Server + o.Server, Postgres: c.Postgres + o.Postgres, Client: c.Client + o.Client, Machine: c.Machine + o.Machine}
}

func (c CPU) per(n int) CPU {
	d := time.Duration(n)
	return CPU{Server: c.Server / d, Postgres: c.Postgres / d, Client: c.Client / d, Machine: c.Machine / d}
}

// cpuMeter reads the CPU counters of one side's parties.
type cpuMeter struct {
	server     int // pid of the serving process
	postmaster int // pid of PostgreSQL's postmaster
}

// read returns the counters now; a measurement's CPU is the difference of
// two reads.
func (m cpuMeter) read() (CPU, error) {
	var c CPU
	var err error
	if c.Server, err = processCPU(m.server); err != nil {
		return CPU{}, err
	}
	if c.Postgres, err = clusterCPU(m.postmaster); err != nil {
		return CPU{}, err
	}
	if c.Client, err = processCPU(os.Getpid()); err != nil {
		return CPU{}, err
	}
	if c.Machine, err = machineBusy(); err != nil {
		return CPU{}, err
	}
	return c, nil
}

// procStat is what this package reads of a /proc/<pid>/stat line.
type procStat struct {
	ppid int
	// own is utime + stime: the process's own CPU time, all threads.
	own time.Duration
	// children is cutime + cstime: CPU time of children it has waited for.
	children time.Duration
}

// processCPU returns the CPU time (user + system, all threads) that process
// pid has used so far, from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	st, err := readProcStat(pid)
	if err != nil {
		return 0, err
	}
	return st.own, nil
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// parseStat reads ppid (field 4), utime and stime (14, 15) and cutime and
// cstime (16, 17) of a /proc/<pid>/stat line. The command name (field 2) is
// in parentheses and may itself hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(stat string) (procStat, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, errors.New("parse /proc/<pid>/stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc/<pid>/stat: %d fields after the command name, want at least 15", len(f))
	}
	var n [5]int64 // ppid, utime, stime, cutime, cstime
	for j, k := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("parse /proc/<pid>/stat: field %d %q: %w", k+3, f[k], err)
		}
		n[j] = v
	}
	return procStat{
		ppid:     int(n[0]),
		own:      time.Duration(n[1]+n[2]) * clockTick,
		children: time.Duration(n[3]+n[4]) * clockTick,
	}, nil
}

// clusterCPU is the CPU time of a PostgreSQL cluster so far: the
// postmaster's own, its exited backends' (which it has waited for) and its
// live children's. A backend that exits between two reads moves from the
// last term to the second, so differences stay right.
func clusterCPU(postmaster int) (time.Duration, error) {
	pm, err := readProcStat(postmaster)
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL's postmaster: %w", err)
	}
	total := pm.own + pm.children
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == postmaster {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.ppid != postmaster {
			continue // gone meanwhile, or not a backend of this cluster
		}
		total += st.own
	}
	return total, nil
}

// machineBusy is the busy time of all cores so far: the first line of
// /proc/stat less idle, iowait and steal (time the hypervisor gave another
// guest: not spent here).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("machine CPU time: %w", err)
	}
	return parseMachineBusy(string(b))
}

func parseMachineBusy(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("parse /proc/stat: first line %q is not the cpu total", line)
	}
	var busy int64
	// user nice system idle iowait irq softirq steal ...; guest time is
	// already inside user and nice.
	for k, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat: %q: %w", s, err)
		}
		if k == 3 || k == 4 || k == 7 { // idle, iowait, steal
			continue
		}
		busy += v
	}
	return time.Duration(busy) * clockTick, nil
}

// postmasterPID reads the postmaster's pid from the first line of the
// cluster's postmaster.pid.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("find PostgreSQL's postmaster: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("find PostgreSQL's postmaster: %s/postmaster.pid: %w", dataDir, err)
	}
	return pid, nil
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
