package devstack

import (
	"context"
	"fmt"
)

// Component is one part of the local stack. dev:up brings the components
// up in the order of the list below, dev:down takes them down in reverse,
// dev:status checks each, and private stacks (tests, benchmarks) give each
// of its ports a free one. Adding a component is a file with its type and
// a line in the list.
type Component interface {
	// Name is what progress lines and errors call it.
	Name() string
	// Ports are the ports it listens on, each overridable by a variable.
	Ports() []Port
	// Up makes it run and healthy, changing nothing that already is.
	Up(ctx context.Context, s *Stack) error
	// Down stops it and keeps its data.
	Down(ctx context.Context, s *Stack) error
	// Check reports its state (dev:status lines; none for a component
	// without a process) without changing anything.
	Check(ctx context.Context, s *Stack) []ComponentStatus
}

// Port is a listen port of a component: the variable that overrides it
// and its default (ARCHITECTURE.md's table).
type Port struct {
	Env     string
	Default int
}

// components is the stack, in start order: the certificates, the
// database everything else logs into, the mailbox Kratos's courier sends
// to, Kratos, the server that asks Kratos, its worker, the origin
// that proxies to the server and Kratos, and the Prometheus that scrapes
// them.
var components = []Component{
	certificates{},
	postgres{},
	mailpitComponent{},
	kratosComponent{},
	serverComponent{},
	workerComponent{},
	webComponent{},
	prometheusComponent{},
}

// portsOf lists the ports of comps, in order.
func portsOf(comps []Component) []Port {
	var out []Port
	for _, c := range comps {
		out = append(out, c.Ports()...)
	}
	return out
}

// stopProcess stops p if it runs and says so.
func (s *Stack) stopProcess(ctx context.Context, p *process) error {
	if _, ok := p.PID(); !ok {
		return nil
	}
	if err := p.Stop(ctx); err != nil {
		return fmt.Errorf("%s: stop: %w", p.Name, err)
	}
	fmt.Fprintf(s.out, "%-13s stopped\n", p.Name)
	return nil
}

// processStatus is the status of a component run as p: stopped, or
// running and healthy when ready answers.
func processStatus(ctx context.Context, st ComponentStatus, p *process, ready func(context.Context) error, healthy string) ComponentStatus {
	st.State, st.Health = "stopped", "not running (go tool mage dev:up)"
	if pid, ok := p.PID(); ok {
		st.State = fmt.Sprintf("running (pid %d)", pid)
		if err := ready(ctx); err != nil {
			st.Health = err.Error()
		} else {
			st.Health, st.Healthy = healthy, true
		}
	}
	return st
}
