package messengergen

import (
	"bytes"
	"fmt"
	"go/token"
	"go/types"
	"slices"
	"strings"
	"unicode"
)

// renderGo writes the Go source of one messenger, before formatting.
func renderGo(m *model, ms *messenger, header string) []byte {
	receivers, sources := ms.roles(m)
	g := &goSource{m: m, ms: ms, receivers: receivers, sources: sources, fields: fieldNames(receivers)}
	g.preamble(header)
	g.messengerType()
	g.constructor()
	g.senderAssertions()
	for _, h := range sources {
		g.senderInterface(h)
	}
	for _, h := range receivers {
		g.handlerInterface(h)
	}
	for _, msg := range ms.messages {
		g.dispatch(msg)
	}
	return g.buf.Bytes()
}

// goSource is the Go source of one messenger being written, with what
// every part of it needs: the messenger's receivers and sources in
// declaration order, and the field that holds each receiver.
type goSource struct {
	writer
	m                  *model
	ms                 *messenger
	receivers, sources []*handler
	fields             map[*handler]string
}

// preamble writes the header, the package documentation and the imports.
func (g *goSource) preamble(header string) {
	m, ms := g.m, g.ms
	g.p("// %s", header)
	g.p("")
	g.p("// Package %s holds messenger %q, which routes messages from", ms.pkg, ms.name)
	g.p("// %s to their receivers by plain method calls.", joinAnd(names(g.sources)))
	if ms.direct {
		g.p("//")
		g.p("// Its dispatch is direct: it holds each receiver as its declared type, so")
		g.p("// its calls to them are static. Only a middleware's next.Send is dynamic.")
	}
	g.p("package %s", ms.pkg)
	g.p("")
	g.p("import (")
	g.p("\t\"context\"")
	aliases := ms.aliases(m)
	if len(aliases) > 0 {
		slices.SortFunc(aliases, func(a, b string) int { return strings.Compare(m.imports[a]+" "+a, m.imports[b]+" "+b) })
		g.p("")
		for _, a := range aliases {
			g.p("\t%s %q", a, m.imports[a])
		}
	}
	g.p(")")
	g.p("")
}

// messengerType writes the Messenger struct, one field per receiver.
func (g *goSource) messengerType() {
	g.p("// Messenger delivers each message to its chain of receivers. It implements")
	g.p("// %s.", joinAnd(suffixed(g.sources, "Sender")))
	g.p("type Messenger struct {")
	for _, h := range g.receivers {
		g.p("\t%s %s", g.fields[h], fieldType(g.ms, h))
	}
	g.p("}")
	g.p("")
}

// constructor writes New, which panics on the receivers it can check for
// nil (nilChecked).
func (g *goSource) constructor() {
	ms, fields := g.ms, g.fields
	checked := nilChecked(ms, g.receivers)
	g.p("// New returns a Messenger that delivers messages to the given receivers.")
	switch {
	case len(checked) == len(g.receivers):
		g.p("// It panics if one is nil: the wiring is wrong.")
	case len(checked) > 0:
		g.p("// It panics if a pointer among them is nil: the wiring is wrong.")
	}
	g.p("func New(%s) *Messenger {", params(ms, g.receivers, fields))
	for _, h := range checked {
		g.p("\tif %s == nil {", fields[h])
		if ms.direct {
			g.p("\t\tpanic(%q)", ms.pkg+".New: nil "+h.name+" ("+h.typ.expr+")")
		} else {
			g.p("\t\tpanic(%q)", ms.pkg+".New: nil "+h.name+"Handler")
		}
		g.p("\t}")
	}
	g.p("\treturn &Messenger{")
	for _, h := range g.receivers {
		g.p("\t\t%s: %s,", fields[h], fields[h])
	}
	g.p("\t}")
	g.p("}")
	g.p("")
}

// senderAssertions writes the compile-time assertions that the Messenger
// is what each source may send through, and with direct dispatch that
// each receiver's declared type implements its handler interface.
func (g *goSource) senderAssertions() {
	g.p("var (")
	for _, h := range g.sources {
		g.p("\t_ %sSender = (*Messenger)(nil)", h.name)
	}
	if g.ms.direct {
		// The messenger compiles only if the declared types have the
		// methods; these assertions also keep them in step with the handler
		// interfaces that a test messenger with interface dispatch takes.
		g.p("")
		g.p("\t// The receivers' declared types implement their handler interfaces, so")
		g.p("\t// they fit a messenger with interface dispatch too, as fakes do.")
		for _, h := range g.receivers {
			g.p("\t_ %sHandler = %s", h.name, zeroValue(h.typ))
		}
	}
	g.p(")")
	g.p("")
}

// senderInterface writes what source h may send.
func (g *goSource) senderInterface(h *handler) {
	g.p("// %sSender lists the messages %s (%s) may send.", h.name, h.name, h.typ.expr)
	g.p("type %sSender interface {", h.name)
	for _, msg := range g.ms.messages {
		if msg.source == h {
			g.p("\t// Send%s sends msg through %s.", msg.name, strings.Join(names(msg.receivers), " → "))
			g.p("\tSend%s(ctx context.Context, msg %s) (%s, error)", msg.name, msg.msg.expr, msg.resp.expr)
		}
	}
	g.p("}")
	g.p("")
}

// handlerInterface writes what receiver h must implement: the last of a
// chain handles the message, the others are middleware.
func (g *goSource) handlerInterface(h *handler) {
	g.p("// %sHandler is implemented by %s (%s).", h.name, h.name, h.typ.expr)
	g.p("type %sHandler interface {", h.name)
	for _, msg := range g.ms.messages {
		i := slices.Index(msg.receivers, h)
		switch {
		case i < 0:
		case i == len(msg.receivers)-1:
			g.p("\t// Handle%s handles %s from %s and returns its response.", msg.name, msg.name, msg.source.name)
			g.p("\tHandle%s(ctx context.Context, msg %s) (%s, error)", msg.name, msg.msg.expr, msg.resp.expr)
		default:
			g.p("\t// Handle%s is middleware for %s from %s: return", msg.name, msg.name, msg.source.name)
			g.p("\t// next.Send(ctx, msg) to forward it to %s, or an error to stop it.", msg.receivers[i+1].name)
			g.p("\tHandle%s(ctx context.Context, msg %s, next Next%s) (%s, error)", msg.name, msg.msg.expr, msg.name, msg.resp.expr)
		}
	}
	g.p("}")
	g.p("")
}

// dispatch writes how msg travels its chain: the Messenger's Send method,
// and for a chain of several receivers the Next type middleware gets and
// one forwarder per later receiver.
func (g *goSource) dispatch(msg *message) {
	fields := g.fields
	if len(msg.receivers) > 1 {
		g.p("// Next%s forwards %s to the next receiver of its chain. It is an", msg.name, msg.name)
		g.p("// alias of an interface literal, so a middleware written against it fits")
		g.p("// every messenger that routes %s, whatever its package.", msg.name)
		g.p("type Next%s = interface {", msg.name)
		g.p("\tSend(ctx context.Context, msg %s) (%s, error)", msg.msg.expr, msg.resp.expr)
		g.p("}")
		g.p("")
	}
	g.p("// Send%s sends msg through %s.", msg.name, strings.Join(names(msg.receivers), " → "))
	g.p("func (m *Messenger) Send%s(ctx context.Context, msg %s) (%s, error) {", msg.name, msg.msg.expr, msg.resp.expr)
	g.p("\treturn %s", call(msg, 0, "m", fields))
	g.p("}")
	g.p("")
	for i, r := range msg.receivers[1:] {
		t := nextType(msg, r)
		// A struct holding one pointer is stored in an interface value
		// without allocating, so passing it as Next<Message> is free.
		g.p("// %s forwards %s from %s to %s.", t, msg.name, msg.receivers[i].name, r.name)
		g.p("type %s struct{ m *Messenger }", t)
		g.p("")
		g.p("func (n %s) Send(ctx context.Context, msg %s) (%s, error) {", t, msg.msg.expr, msg.resp.expr)
		g.p("\treturn %s", call(msg, i+1, "n.m", fields))
		g.p("}")
		g.p("")
	}
}

// call is the expression that hands msg to its i-th receiver.
func call(msg *message, i int, m string, fields map[*handler]string) string {
	r := msg.receivers[i]
	if i == len(msg.receivers)-1 {
		return fmt.Sprintf("%s.%s.Handle%s(ctx, msg)", m, fields[r], msg.name)
	}
	return fmt.Sprintf("%s.%s.Handle%s(ctx, msg, %s{%s})", m, fields[r], msg.name, nextType(msg, msg.receivers[i+1]), m)
}

// roles returns the handlers of ms that receive messages and those that
// send them, each in declaration order.
func (ms *messenger) roles(m *model) (receivers, sources []*handler) {
	for _, h := range m.handlers {
		if !ms.handlers[h.name] {
			continue
		}
		if ms.receives(h) {
			receivers = append(receivers, h)
		}
		if ms.sends(h) {
			sources = append(sources, h)
		}
	}
	return receivers, sources
}

// fieldNames gives each receiver a field and parameter name: its name in
// lowerCamelCase, made unique and kept clear of keywords and predeclared names.
func fieldNames(hs []*handler) map[*handler]string {
	out := map[*handler]string{}
	used := map[string]bool{}
	for _, h := range hs {
		name := lowerCamel(h.name)
		if token.IsKeyword(name) || types.Universe.Lookup(name) != nil {
			name += "Handler"
		}
		for base, i := name, 2; used[name]; i++ {
			name = fmt.Sprintf("%s%d", base, i)
		}
		used[name] = true
		out[h] = name
	}
	return out
}

// lowerCamel lowers the leading upper-case run: AccountAPI → accountAPI,
// APIKeys → apiKeys, API → api.
func lowerCamel(s string) string {
	r := []rune(s)
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	if n > 1 && n < len(r) {
		n-- // keep the first letter of the next word: APIKeys → apiKeys
	}
	for i := range n {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

func params(ms *messenger, hs []*handler, fields map[*handler]string) string {
	var ps []string
	for _, h := range hs {
		ps = append(ps, fields[h]+" "+fieldType(ms, h))
	}
	return strings.Join(ps, ", ")
}

// fieldType is the type the messenger holds receiver h as: its handler
// interface, or with direct dispatch its declared type.
func fieldType(ms *messenger, h *handler) string {
	if ms.direct {
		return h.typ.expr
	}
	return h.name + "Handler"
}

// nilChecked lists the receivers New checks for nil: all of them when they
// are held as interfaces; with direct dispatch, those of pointer types (a
// named non-pointer type may be a struct, which cannot be compared to nil).
func nilChecked(ms *messenger, hs []*handler) []*handler {
	if !ms.direct {
		return hs
	}
	var out []*handler
	for _, h := range hs {
		if h.typ.pointer {
			out = append(out, h)
		}
	}
	return out
}

// zeroValue is an expression of type t's zero value, e.g. (*store.Accounts)(nil).
func zeroValue(t goType) string {
	if t.pointer {
		return "(" + t.expr + ")(nil)"
	}
	return "*new(" + t.expr + ")"
}

func names(hs []*handler) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

func suffixed(hs []*handler, suffix string) []string {
	out := names(hs)
	for i := range out {
		out[i] += suffix
	}
	return out
}

func joinAnd(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	return strings.Join(list[:len(list)-1], ", ") + " and " + list[len(list)-1]
}

type writer struct{ buf bytes.Buffer }

func (w *writer) p(format string, args ...any) {
	fmt.Fprintf(&w.buf, format, args...)
	w.buf.WriteByte('\n')
}

// renderHandlerTest writes an external test file asserting, at compile time,
// that the Go type declared for each receiver implements its handler
// interface: go vet and go test fail there, naming the missing method.
func renderHandlerTest(m *model, ms *messenger, header string) []byte {
	w := &writer{}
	receivers, _ := ms.roles(m)
	w.p("// %s", header)
	w.p("")
	w.p("package %s_test", ms.pkg)
	w.p("")
	w.p("import (")
	w.p("\t%s %q", ms.pkg, ms.importPath)
	for _, a := range typeAliases(receivers) {
		w.p("\t%s %q", a, m.imports[a])
	}
	w.p(")")
	w.p("")
	w.p("// The handler types declared in the routing spec implement the interfaces")
	w.p("// of messenger %q.", ms.name)
	w.p("var (")
	for _, h := range receivers {
		w.p("\t_ %s.%sHandler = *new(%s)", ms.pkg, h.name, h.typ.expr)
	}
	w.p(")")
	return w.buf.Bytes()
}
