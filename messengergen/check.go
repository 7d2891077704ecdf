package messengergen

import (
	"fmt"
	"go/token"
	"go/types"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// model is a checked spec, ready to generate from.
type model struct {
	imports    map[string]string // alias → import path
	importPos  map[string]position
	handlers   []*handler // in declaration order
	byName     map[string]*handler
	messages   []*message // in declaration order
	messengers []*messenger
}

type handler struct {
	decl  *handlerDecl
	name  string
	typ   goType
	sends []*message // the messages it is the source of
}

type message struct {
	decl        *messageDecl
	name        string
	source      *handler
	msg         goType
	resp        goType
	receivers   []*handler // the declared ones
	receiverPos []position
}

type messenger struct {
	decl       *messengerDecl
	name       string
	pkg        string
	output     string // slash-separated, relative to the spec's directory
	importPath string // the generated package's import path, or ""
	direct     bool   // dispatch: direct, the receivers held as their declared types
	handlers   map[string]bool
	messages   []*message // the routes among its handlers, in declaration order
}

// check validates s, reporting every problem to diags, and returns the model.
// The model is only complete when diags is empty.
func check(s *spec, diags *diagList) *model {
	m := &model{imports: map[string]string{}, importPos: map[string]position{}, byName: map[string]*handler{}}
	c := &checker{diags: diags, m: m}
	c.imports(s.imports)
	c.handlers(s.handlers)
	c.routes(s.routes)
	c.cycles()
	c.messengers(s.messengers)
	return m
}

type checker struct {
	diags *diagList
	m     *model
}

func (c *checker) imports(imports []*importDecl) {
	for _, imp := range imports {
		alias := imp.alias
		switch {
		case !token.IsIdentifier(alias.val) || alias.val == "_":
			c.diags.errorf(alias.pos, "import alias %q is not a valid Go identifier", alias.val)
			continue
		case alias.val == "context":
			c.diags.errorf(alias.pos, `import alias "context" is reserved for the standard library's context package`)
			continue
		case types.Universe.Lookup(alias.val) != nil:
			c.diags.errorf(alias.pos, "import alias %q shadows a predeclared Go identifier", alias.val)
			continue
		}
		if imp.path.val == "" {
			continue // reported while decoding
		}
		if err := checkImportPath(imp.path.val); err != nil {
			c.diags.errorf(imp.path.pos, "import path %q: %v", imp.path.val, err)
			continue
		}
		c.m.imports[alias.val] = imp.path.val
		c.m.importPos[alias.val] = alias.pos
	}
}

func (c *checker) handlers(decls []*handlerDecl) {
	for _, d := range decls {
		if d.name.val == "" {
			continue // reported while decoding
		}
		if !c.exported(d.name, "handler name") {
			continue
		}
		if prev, dup := c.m.byName[d.name.val]; dup {
			c.diags.errorf(d.name.pos, "handler %s declared twice (first at %s)", d.name.val, prev.decl.name.pos)
			continue
		}
		h := &handler{decl: d, name: d.name.val}
		h.typ, _ = c.goType(d.typ, "handler type")
		c.m.handlers = append(c.m.handlers, h)
		c.m.byName[h.name] = h
	}
}

func (c *checker) routes(decls []*routeDecl) {
	sourceAt := map[string]position{}
	sent := map[string]*message{}
	for _, r := range decls {
		src := c.ref(r.source, "route source")
		if src != nil {
			if first, dup := sourceAt[src.name]; dup {
				c.diags.errorf(r.source.pos, "source %s already has a route entry at %s; list all its messages there", src.name, first)
			} else {
				sourceAt[src.name] = r.source.pos
			}
		}
		for _, d := range r.messages {
			msg := &message{decl: d, name: d.name.val, source: src}
			if d.name.val != "" && c.exported(d.name, "message name") {
				if prev, dup := sent[msg.name]; dup {
					if prev.decl.route.source.val == r.source.val {
						c.diags.errorf(d.name.pos, "message %s declared twice for source %s (first at %s)", msg.name, r.source.val, prev.decl.name.pos)
					} else {
						c.diags.errorf(d.name.pos, "message %s is already sent by %s (at %s); message names are unique in a spec", msg.name, prev.decl.route.source.val, prev.decl.name.pos)
					}
				} else {
					sent[msg.name] = msg
				}
			}
			msg.msg, _ = c.goType(d.message, "message type")
			msg.resp, _ = c.goType(d.response, "response type")
			if len(d.receivers) == 0 && d.receiversOK {
				c.diags.errorf(d.receiversPos, "message %s has no receivers; list its middlewares, if any, then its final receiver", orUnnamed(msg.name))
			}
			for _, r := range d.receivers {
				if h := c.ref(r, "receiver"); h != nil {
					msg.receivers = append(msg.receivers, h)
					msg.receiverPos = append(msg.receiverPos, r.pos)
				}
			}
			if src == nil {
				continue
			}
			// Messages with problems stay in the model so that the checks
			// below (cycles, messengers) see the intended graph; nothing is
			// generated while any problem is reported.
			src.sends = append(src.sends, msg)
			c.m.messages = append(c.m.messages, msg)
		}
	}
}

// cycles reports every cycle in the call graph. Its nodes are the methods
// the messenger calls: receiver R handling message M. Each receiver calls
// the next one of its chain, and a receiver that is also a source may call,
// from any of its methods, the first receiver of any message it sends. A
// cycle means a handler may end up handling its own call.
func (c *checker) cycles() {
	type node struct {
		h   *handler
		msg *message
	}
	type edge struct {
		to node
		at position // where the edge is declared
	}
	edges := map[node][]edge{}
	var nodes []node
	for _, msg := range c.m.messages {
		for i, r := range msg.receivers {
			n := node{r, msg}
			nodes = append(nodes, n)
			if i+1 < len(msg.receivers) {
				edges[n] = append(edges[n], edge{node{msg.receivers[i+1], msg}, msg.receiverPos[i+1]})
			}
			for _, sent := range r.sends {
				if len(sent.receivers) > 0 {
					edges[n] = append(edges[n], edge{node{sent.receivers[0], sent}, sent.receiverPos[0]})
				}
			}
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[node]int{}
	var stack []node
	var visit func(n node)
	visit = func(n node) {
		state[n] = onStack
		stack = append(stack, n)
		for _, e := range edges[n] {
			switch state[e.to] {
			case unvisited:
				visit(e.to)
			case onStack:
				i := len(stack) - 1
				for stack[i] != e.to {
					i--
				}
				// Start the path at the handler declared first, so that
				// A → B → A reads the way the spec is written.
				cycle := slices.Clone(stack[i:])
				first := 0
				for j, n := range cycle {
					if n.h.decl.pos.line < cycle[first].h.decl.pos.line {
						first = j
					}
				}
				cycle = append(cycle[first:], cycle[:first]...)
				var path, msgs []string
				for j, n := range append(cycle, cycle[0]) {
					path = append(path, n.h.name)
					// The message on the hop into n is the one n handles.
					if j > 0 && !slices.Contains(msgs, n.msg.name) {
						msgs = append(msgs, n.msg.name)
					}
				}
				c.diags.errorf(e.at, "cycle: %s (via %s)", strings.Join(path, " → "), strings.Join(msgs, ", "))
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range nodes {
		if state[n] == unvisited {
			visit(n)
		}
	}
}

func (c *checker) messengers(decls []*messengerDecl) {
	names := map[string]position{}
	dirs := map[string]*messengerDecl{}
	for _, d := range decls {
		m := &messenger{decl: d, name: d.name.val, pkg: d.pkg.val, handlers: map[string]bool{}}
		if m.name != "" {
			if first, dup := names[m.name]; dup {
				c.diags.errorf(d.name.pos, "messenger %q declared twice (first at %s)", m.name, first)
			}
			names[m.name] = d.name.pos
		}
		if m.pkg != "" && (!token.IsIdentifier(m.pkg) || m.pkg == "_") {
			c.diags.errorf(d.pkg.pos, "messenger package %q is not a valid Go package name", m.pkg)
		}
		if d.output.val != "" {
			out, err := checkOutput(d.output.val)
			if err != nil {
				c.diags.errorf(d.output.pos, "messenger output %q: %v", d.output.val, err)
			} else if other, dup := dirs[path.Dir(out)]; dup {
				c.diags.errorf(d.output.pos, "messenger %q writes to directory %s like messenger %q (at %s); each messenger needs its own package directory", m.name, path.Dir(out), other.name.val, other.output.pos)
			} else {
				dirs[path.Dir(out)] = d
				m.output = out
			}
		}
		if p := d.importPath.val; p != "" {
			if err := checkImportPath(p); err != nil {
				c.diags.errorf(d.importPath.pos, "messenger import path %q: %v", p, err)
			} else {
				m.importPath = p
			}
		}
		c.dispatch(m)
		c.members(m)
		if m.direct {
			c.directTypes(m)
		}
		c.m.messengers = append(c.m.messengers, m)
	}
	// Name collisions are only meaningful once everything else is right.
	if len(c.diags.list) == 0 {
		for _, m := range c.m.messengers {
			c.collisions(m)
		}
	}
}

// Dispatch modes of a messenger (its dispatch field).
const (
	dispatchInterface = "interface" // the default: receivers held as their handler interfaces
	dispatchDirect    = "direct"    // receivers held as their declared Go types
)

// dispatch checks a messenger's dispatch mode.
func (c *checker) dispatch(m *messenger) {
	switch d := m.decl.dispatch; d.val {
	case "", dispatchInterface:
		// "" is the default, or empty and reported while decoding.
	case dispatchDirect:
		m.direct = true
	default:
		c.diags.errorf(d.pos, "messenger %q: dispatch %q is not valid: want %q (the default: handlers held as their generated interfaces, so fakes fit) or %q (handlers held as their declared types, calls static)%s",
			m.name, d.val, dispatchInterface, dispatchDirect, didYouMean(strings.ToLower(d.val), []string{dispatchInterface, dispatchDirect}))
	}
}

// directTypes checks that a messenger with direct dispatch can hold each of
// its receivers as its declared type: that type must be one that can have
// methods, from a package the messenger can import.
func (c *checker) directTypes(m *messenger) {
	receivers, _ := m.roles(c.m)
	for _, h := range receivers {
		if h.typ.expr == "" {
			continue // reported with the handler
		}
		if !h.typ.named {
			c.diags.errorf(h.decl.typ.pos, "handler %s has type %q, which cannot have its Handle methods; messenger %q (dispatch: direct at %s) holds it as that type and needs alias.Type or *alias.Type",
				h.name, h.typ.expr, m.name, m.decl.dispatch.pos)
			continue
		}
		if m.importPath == "" {
			continue
		}
		for _, a := range h.typ.aliases {
			if c.m.imports[a] == m.importPath {
				c.diags.errorf(h.decl.typ.pos, "handler %s has type %q from package %s, the package of messenger %q, which has dispatch: direct (at %s) and would import itself; move the handler type to its own package",
					h.name, h.typ.expr, m.importPath, m.name, m.decl.dispatch.pos)
			}
		}
	}
}

// members checks a messenger's handler list: every handler declared and
// listed once, every route of an included source complete, every handler used.
func (c *checker) members(m *messenger) {
	listed := map[string]position{}
	var hs []*handler
	for _, r := range m.decl.handlers {
		h := c.ref(r, "messenger handler")
		if h == nil {
			continue
		}
		if first, dup := listed[h.name]; dup {
			c.diags.errorf(r.pos, "messenger %q lists handler %s twice (first at %s)", m.name, h.name, first)
			continue
		}
		listed[h.name] = r.pos
		m.handlers[h.name] = true
		hs = append(hs, h)
	}
	used := map[*handler]bool{}
	for _, msg := range c.m.messages {
		if !m.handlers[msg.source.name] {
			continue
		}
		complete := true
		for _, r := range msg.receivers {
			if !m.handlers[r.name] {
				complete = false
				c.diags.errorf(listed[msg.source.name], "messenger %q includes %s but not %s, a receiver of route %s.%s (dangling route); add %s or remove %s",
					m.name, msg.source.name, r.name, msg.source.name, msg.name, r.name, msg.source.name)
			}
		}
		if !complete {
			used[msg.source] = true // reported above; don't also call it unused
			continue
		}
		m.messages = append(m.messages, msg)
		used[msg.source] = true
		for _, r := range msg.receivers {
			used[r] = true
		}
	}
	for _, h := range hs {
		if !used[h] {
			c.diags.errorf(listed[h.name], "messenger %q cannot use handler %s: no route among its handlers sends from or to it", m.name, h.name)
		}
	}
}

// collisions reports generated package-level names that clash, e.g. a
// message named FooHandler next to a handler named NextFoo.
func (c *checker) collisions(m *messenger) {
	seen := map[string]string{}
	claim := func(name, what string, at position) {
		if first, dup := seen[name]; dup {
			c.diags.errorf(at, "messenger %q: generated name %s for %s collides with %s", m.name, name, what, first)
			return
		}
		seen[name] = what
	}
	claim("Messenger", "the messenger type", m.decl.pos)
	claim("New", "the constructor", m.decl.pos)
	for _, h := range c.m.handlers {
		if !m.handlers[h.name] {
			continue
		}
		if m.sends(h) {
			claim(h.name+"Sender", "the sender interface of "+h.name, h.decl.name.pos)
		}
		if m.receives(h) {
			claim(h.name+"Handler", "the handler interface of "+h.name, h.decl.name.pos)
		}
	}
	for _, msg := range m.messages {
		if len(msg.receivers) > 1 {
			claim("Next"+msg.name, "the next interface of message "+msg.name, msg.decl.name.pos)
		}
		for _, r := range msg.receivers[min(1, len(msg.receivers)):] {
			claim(nextType(msg, r), "a forwarder of message "+msg.name, msg.decl.name.pos)
		}
	}
	for _, alias := range m.aliases(c.m) {
		claim(alias, "import alias "+alias, c.m.importPos[alias])
	}
	if m.importPath != "" {
		// The handler test file imports the messenger's package by its name
		// beside the packages of the handler types.
		receivers, _ := m.roles(c.m)
		for _, a := range typeAliases(receivers) {
			if a == m.pkg {
				c.diags.errorf(m.decl.importPath.pos, "messenger %q: package name %s is also the import alias of a handler type; rename one (%s_handlers_test.go imports both)", m.name, a, strings.TrimSuffix(path.Base(m.output), ".go"))
			}
		}
	}
}

// typeAliases lists the import aliases the handler types of hs use, sorted.
func typeAliases(hs []*handler) []string {
	var out []string
	for _, h := range hs {
		for _, a := range h.typ.aliases {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// sends reports whether h is the source of a message in m.
func (m *messenger) sends(h *handler) bool {
	for _, msg := range m.messages {
		if msg.source == h {
			return true
		}
	}
	return false
}

// receives reports whether h receives a message in m.
func (m *messenger) receives(h *handler) bool {
	for _, msg := range m.messages {
		for _, r := range msg.receivers {
			if r == h {
				return true
			}
		}
	}
	return false
}

// aliases lists the import aliases m's generated code uses, in first-use
// order: those of the message and response types and, with direct dispatch,
// those of the receivers' types.
func (m *messenger) aliases(model *model) []string {
	var out []string
	seen := map[string]bool{}
	add := func(as []string) {
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	for _, msg := range m.messages {
		add(msg.msg.aliases)
		add(msg.resp.aliases)
	}
	if m.direct {
		receivers, _ := m.roles(model)
		for _, h := range receivers {
			add(h.typ.aliases)
		}
	}
	return out
}

// ref resolves a handler name, reporting an undeclared one.
func (c *checker) ref(r str, what string) *handler {
	if r.val == "" {
		return nil // reported while decoding
	}
	h, ok := c.m.byName[r.val]
	if !ok {
		c.diags.errorf(r.pos, "%s %s is not a declared handler", what, r.val)
	}
	return h
}

// goType parses a type expression and checks its aliases are imported.
func (c *checker) goType(s str, what string) (goType, bool) {
	if s.val == "" {
		return goType{}, false // reported while decoding
	}
	t, err := parseGoType(s.val)
	if err != nil {
		c.diags.errorf(s.pos, "%s %v", what, err)
		return goType{}, false
	}
	ok := true
	for _, a := range t.aliases {
		if _, imported := c.m.imports[a]; !imported {
			c.diags.errorf(s.pos, "%s %q: %s is not an alias declared in imports", what, s.val, a)
			ok = false
		}
	}
	return t, ok
}

// exported reports whether s is an exported Go identifier, reporting it if not.
func (c *checker) exported(s str, what string) bool {
	if !token.IsIdentifier(s.val) {
		c.diags.errorf(s.pos, "%s %q is not a valid Go identifier", what, s.val)
		return false
	}
	if r, _ := utf8.DecodeRuneInString(s.val); !unicode.IsUpper(r) {
		c.diags.errorf(s.pos, "%s %q must be exported (start with an upper-case letter): it names generated types and methods", what, s.val)
		return false
	}
	return true
}

func orUnnamed(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return name
}

// checkOutput checks a messenger output path and returns it cleaned.
func checkOutput(p string) (string, error) {
	switch {
	case strings.Contains(p, `\`):
		return "", fmt.Errorf("use forward slashes")
	case path.IsAbs(p):
		return "", fmt.Errorf("must be relative to the spec's directory")
	}
	clean := path.Clean(p)
	switch {
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "", fmt.Errorf("must stay inside the spec's directory")
	case !strings.HasSuffix(clean, ".go") || path.Base(clean) == ".go":
		return "", fmt.Errorf("must name a .go file")
	case strings.HasSuffix(clean, "_test.go"):
		return "", fmt.Errorf("must not be a _test.go file")
	}
	return clean, nil
}

// checkImportPath applies the rules of the go command to an import path,
// in short: slash-separated non-empty elements of letters, digits and -._~+.
func checkImportPath(p string) error {
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("must not start or end with a slash")
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return fmt.Errorf("has an empty, . or .. element")
		}
		for _, r := range elem {
			if !importPathRune(r) {
				return fmt.Errorf("has invalid character %q", r)
			}
		}
	}
	return nil
}

func importPathRune(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-._~+", r))
}

// nextType names the unexported type that forwards msg to receiver r.
func nextType(msg *message, r *handler) string { return "next" + msg.name + "To" + r.name }
