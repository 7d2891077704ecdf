package messengergen

import (
	"fmt"
	"slices"
	"strings"
)

// renderGraph writes a Mermaid flowchart of ms: one node per handler (sources
// rounded, final receivers as cylinders, middlewares as boxes) and one arrow
// per hop, labelled with the messages that take it.
func renderGraph(m *model, ms *messenger, header string) []byte {
	w := &writer{}
	w.p("%%%% %s", header)
	w.p("%%%% Messenger %q (package %s).", ms.name, ms.pkg)
	w.p("flowchart LR")
	for _, h := range m.handlers {
		if !ms.handlers[h.name] {
			continue
		}
		label := fmt.Sprintf(`"%s<br/>%s"`, h.name, strings.ReplaceAll(h.typ.expr, `"`, "#quot;"))
		open, closing := "[", "]"
		switch {
		case ms.sends(h):
			open, closing = "([", "])"
		case ms.onlyFinal(h):
			open, closing = "[(", ")]"
		}
		w.p("    %s%s%s%s", h.name, open, label, closing)
	}
	type hop struct{ from, to *handler }
	var hops []hop
	labels := map[hop][]string{}
	for _, msg := range ms.messages {
		from := msg.source
		for _, to := range msg.receivers {
			k := hop{from, to}
			if _, ok := labels[k]; !ok {
				hops = append(hops, k)
			}
			if !slices.Contains(labels[k], msg.name) {
				labels[k] = append(labels[k], msg.name)
			}
			from = to
		}
	}
	for _, k := range hops {
		w.p("    %s -->|%s| %s", k.from.name, strings.Join(labels[k], ", "), k.to.name)
	}
	return w.buf.Bytes()
}

// onlyFinal reports whether h is only ever the last receiver in ms.
func (ms *messenger) onlyFinal(h *handler) bool {
	found := false
	for _, msg := range ms.messages {
		if i := slices.Index(msg.receivers, h); i >= 0 {
			if i != len(msg.receivers)-1 {
				return false
			}
			found = true
		}
	}
	return found
}
