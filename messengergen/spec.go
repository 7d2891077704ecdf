package messengergen

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// spec is a routing.yaml file decoded with the position of every value.
type spec struct {
	imports    []*importDecl
	handlers   []*handlerDecl
	routes     []*routeDecl
	messengers []*messengerDecl
}

// str is a string value of the spec and where it was written.
type str struct {
	val string
	pos position
}

type importDecl struct {
	alias str
	path  str
}

type handlerDecl struct {
	pos  position // the list item
	name str
	typ  str
}

type routeDecl struct {
	pos      position
	source   str
	messages []*messageDecl
}

type messageDecl struct {
	pos          position
	route        *routeDecl
	name         str
	message      str
	response     str
	receivers    []str
	receiversPos position
	receiversOK  bool // false if receivers was malformed (and reported)
}

type messengerDecl struct {
	pos         position
	name        str
	pkg         str
	output      str
	importPath  str // optional: the generated package's import path
	dispatch    str // optional: "interface" (the default) or "direct"
	handlers    []str
	handlersPos position
}

// yamlLine matches the line prefix of go.yaml.in/yaml/v3 syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseSpec decodes src into a spec, reporting every structural problem
// (syntax, unknown fields, wrong kinds, missing values) to diags. It returns
// nil when the YAML itself cannot be parsed.
func parseSpec(src []byte, diags *diagList) *spec {
	root, err := parseYAML(src, diags)
	if err != nil {
		p := position{1, 1}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			p, msg = position{line, 1}, m[2]
		}
		if strings.Contains(msg, "anchor") || strings.Contains(msg, "alphabetic or numeric character") {
			msg += ` (a value starting with "*" or "&" is YAML syntax: quote Go pointer types, e.g. "*api.Request")`
		}
		diags.errorf(p, "invalid YAML: %s", msg)
		return nil
	}
	if root == nil {
		diags.errorf(position{1, 1}, "empty spec: want a mapping with handlers, routes and messengers")
		return nil
	}
	d := &decoder{diags: diags}
	s := &spec{}
	d.fields(root, "the spec", []string{"imports", "handlers", "routes", "messengers"}, func(key string, val *yaml.Node) {
		switch key {
		case "imports":
			d.mapping(val, "imports", func(k, v *yaml.Node) {
				imp := &importDecl{alias: str{k.Value, pos(k)}}
				imp.path, _ = d.str(v, "import path of "+strconv.Quote(k.Value), true)
				s.imports = append(s.imports, imp)
			})
		case "handlers":
			d.list(val, "handlers", func(item *yaml.Node) { s.handlers = append(s.handlers, d.handler(item)) })
		case "routes":
			d.list(val, "routes", func(item *yaml.Node) { s.routes = append(s.routes, d.route(item)) })
		case "messengers":
			d.list(val, "messengers", func(item *yaml.Node) { s.messengers = append(s.messengers, d.messenger(item)) })
		}
	}, "handlers", "routes", "messengers")
	return s
}

// parseYAML parses exactly one YAML document and returns its root node, or nil
// for an empty document. Anchors and aliases are reported to diags: the spec
// has no use for them and following them would let a small input expand.
func parseYAML(src []byte, diags *diagList) (root *yaml.Node, err error) {
	defer func() {
		// The YAML parser reports errors by panicking internally; make sure no
		// input can crash the generator even if one escapes.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		diags.errorf(pos(&extra), "a spec is one YAML document; remove the second one")
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root = doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	reportAnchors(root, diags)
	return root, nil
}

func reportAnchors(n *yaml.Node, diags *diagList) {
	if n.Anchor != "" {
		diags.errorf(pos(n), "YAML anchors are not supported (&%s)", n.Anchor)
	}
	if n.Kind == yaml.AliasNode {
		diags.errorf(pos(n), "YAML aliases are not supported (*%s)", n.Value)
		return
	}
	for _, c := range n.Content {
		reportAnchors(c, diags)
	}
}

func pos(n *yaml.Node) position { return position{n.Line, n.Column} }

// decoder walks yaml.v3 nodes, reporting problems instead of stopping at the first.
type decoder struct{ diags *diagList }

func (d *decoder) handler(n *yaml.Node) *handlerDecl {
	h := &handlerDecl{pos: pos(n)}
	d.fields(n, "a handler", []string{"name", "type"}, func(key string, val *yaml.Node) {
		switch key {
		case "name":
			h.name, _ = d.str(val, "handler name", true)
		case "type":
			h.typ, _ = d.str(val, "handler type", true)
		}
	}, "name", "type")
	return h
}

func (d *decoder) route(n *yaml.Node) *routeDecl {
	r := &routeDecl{pos: pos(n)}
	d.fields(n, "a route", []string{"source", "messages"}, func(key string, val *yaml.Node) {
		switch key {
		case "source":
			r.source, _ = d.str(val, "route source", true)
		case "messages":
			d.list(val, "messages", func(item *yaml.Node) { r.messages = append(r.messages, d.message(item, r)) })
		}
	}, "source", "messages")
	return r
}

func (d *decoder) message(n *yaml.Node, r *routeDecl) *messageDecl {
	m := &messageDecl{pos: pos(n), route: r, receiversPos: pos(n), receiversOK: true}
	d.fields(n, "a message", []string{"name", "message", "response", "receivers"}, func(key string, val *yaml.Node) {
		switch key {
		case "name":
			m.name, _ = d.str(val, "message name", true)
		case "message":
			m.message, _ = d.str(val, "message type", true)
		case "response":
			m.response, _ = d.str(val, "response type", true)
		case "receivers":
			m.receiversPos = pos(val)
			m.receivers, m.receiversOK = d.strList(val, "receivers")
		}
	}, "name", "message", "response")
	return m
}

func (d *decoder) messenger(n *yaml.Node) *messengerDecl {
	m := &messengerDecl{pos: pos(n), handlersPos: pos(n)}
	d.fields(n, "a messenger", []string{"name", "package", "output", "import", "dispatch", "handlers"}, func(key string, val *yaml.Node) {
		switch key {
		case "name":
			m.name, _ = d.str(val, "messenger name", true)
		case "package":
			m.pkg, _ = d.str(val, "messenger package", true)
		case "output":
			m.output, _ = d.str(val, "messenger output", true)
		case "import":
			m.importPath, _ = d.str(val, "messenger import path", true)
		case "dispatch":
			m.dispatch, _ = d.str(val, "messenger dispatch", true)
		case "handlers":
			m.handlersPos = pos(val)
			var ok bool
			m.handlers, ok = d.strList(val, "messenger handlers")
			if len(m.handlers) == 0 && ok {
				d.diags.errorf(pos(val), "messenger handlers must not be empty")
			}
		}
	}, "name", "package", "output", "handlers")
	return m
}

// fields checks that n is a mapping whose keys are all in known, each at most
// once, calls set for each, and reports the required keys that are missing.
func (d *decoder) fields(n *yaml.Node, what string, known []string, set func(key string, val *yaml.Node), required ...string) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, what, "a mapping")
		return
	}
	seen := map[string]position{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.diags.errorf(pos(k), "%s has a key that is %s, want a field name", what, kind(k))
			continue
		}
		if !slices.Contains(known, k.Value) {
			d.diags.errorf(pos(k), "unknown field %q in %s (want %s)%s", k.Value, what, strings.Join(known, ", "), didYouMean(k.Value, known))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.diags.errorf(pos(k), "field %q repeated in %s (first at %s)", k.Value, what, first)
			continue
		}
		seen[k.Value] = pos(k)
		set(k.Value, v)
	}
	for _, r := range required {
		if _, ok := seen[r]; !ok {
			d.diags.errorf(pos(n), "%s is missing required field %q", what, r)
		}
	}
}

// mapping calls each for every key and value of the mapping n, which may be null.
func (d *decoder) mapping(n *yaml.Node, what string, each func(k, v *yaml.Node)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, what, "a mapping")
		return
	}
	seen := map[string]position{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.diags.errorf(pos(k), "%s keys must be strings, got %s", what, kind(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.diags.errorf(pos(k), "%q repeated in %s (first at %s)", k.Value, what, first)
			continue
		}
		seen[k.Value] = pos(k)
		each(k, v)
	}
}

// list calls each for every item of the sequence n, reporting an empty or missing list.
func (d *decoder) list(n *yaml.Node, what string, each func(item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		if isNull(n) {
			d.diags.errorf(pos(n), "%s must not be empty", what)
			return
		}
		d.wrongKind(n, what, "a list")
		return
	}
	if len(n.Content) == 0 {
		d.diags.errorf(pos(n), "%s must not be empty", what)
	}
	for _, item := range n.Content {
		each(item)
	}
}

// strList decodes a list of strings; a null or empty list gives nil. It
// returns false if it reported a problem.
func (d *decoder) strList(n *yaml.Node, what string) ([]str, bool) {
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.wrongKind(n, what, "a list of handler names")
		return nil, false
	}
	var out []str
	ok := true
	for _, item := range n.Content {
		s, itemOK := d.str(item, what+" item", true)
		if itemOK {
			out = append(out, s)
		}
		ok = ok && itemOK
	}
	return out, ok
}

// str decodes a string scalar; required reports it when empty.
func (d *decoder) str(n *yaml.Node, what string, required bool) (str, bool) {
	s := str{pos: pos(n)}
	switch {
	case isNull(n):
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str":
		d.wrongKind(n, what, "a string")
		return s, false
	default:
		s.val = n.Value
	}
	if required && strings.TrimSpace(s.val) == "" {
		d.diags.errorf(pos(n), "%s must not be empty", what)
		return s, false
	}
	return s, true
}

// wrongKind reports that n is not the kind of node wanted, unless n is an
// alias, which is reported once on its own.
func (d *decoder) wrongKind(n *yaml.Node, what, want string) {
	if n.Kind != yaml.AliasNode {
		d.diags.errorf(pos(n), "%s must be %s, got %s", what, want, kind(n))
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// kind describes a node for error messages.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!null":
			return "null"
		default:
			return "a scalar of type " + n.ShortTag()
		}
	}
	return "an unexpected YAML node"
}

// didYouMean suggests the known field closest to an unknown one, if close.
func didYouMean(field string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(field, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between short strings a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
