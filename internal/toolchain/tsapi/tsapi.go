// Package tsapi generates the webapp's TypeScript API types from the
// server's OpenAPI (Swagger 2.0) document, so that no API type in the
// browser is written by hand.
//
// Input: server/gen/openapi/groundwork.swagger.json, produced by
// protoc-gen-openapiv2 (`go tool mage generate`). Output:
// webapp/src/api/types.gen.ts, committed, with a "DO NOT EDIT" header; `mage
// ci` fails when it is stale.
//
// What the output holds, for each kind of input:
//
//   - a definition of type object: an interface; every property optional
//     (proto3 JSON may omit fields that hold their zero value), "Output
//     only." (readOnly) properties readonly, descriptions as JSDoc;
//   - an object without properties: Record<string, never>; one with
//     additionalProperties (google.protobuf.Any): an index signature;
//   - a string enum: a union of its string literals (protojson writes
//     enum names, not numbers);
//   - scalars: int64, uint64, fixed64 and the like are strings (protojson
//     writes 64-bit integers as strings); int32, float and double are
//     numbers; bytes are base64 strings; date-time is an RFC 3339 string;
//   - each operation (an operationId such as AccountService_ListAccounts):
//     a member of the Operations interface with its method, path, path and
//     query parameters, body and response type, and an entry of the
//     operationRoutes constant (method and path template at run time, so the
//     client has no hand-written URLs either).
//
// Property names are the document's, which are protojson's lowerCamelCase
// names (the gateway keeps its default marshaler). The output depends only on
// the input: definitions and operations sorted by name, properties in the
// document's (proto field) order; byte-identical across runs.
package tsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Default paths, relative to the repository root.
const (
	SwaggerPath = "server/gen/openapi/groundwork.swagger.json"
	OutputPath  = "webapp/src/api/types.gen.ts"
)

// Error is a problem with the input document, located by a JSON pointer.
type Error struct {
	File    string // the document's path as given to Generate
	Pointer string // JSON pointer into the document, e.g. #/definitions/Account
	Msg     string
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Pointer + ": " + e.Msg
}

// schema is the subset of a Swagger 2.0 schema object that
// protoc-gen-openapiv2 writes.
type schema struct {
	Ref                  string          `json:"$ref"`
	Type                 string          `json:"type"`
	Format               string          `json:"format"`
	Description          string          `json:"description"`
	Title                string          `json:"title"`
	ReadOnly             bool            `json:"readOnly"`
	Enum                 []string        `json:"enum"`
	Items                *schema         `json:"items"`
	Properties           orderedSchemas  `json:"properties"`
	AdditionalProperties json.RawMessage `json:"additionalProperties"`
	Required             []string        `json:"required"`
}

// orderedSchemas keeps the document's key order (proto field order).
type orderedSchemas struct {
	keys []string
	m    map[string]*schema
}

func (o *orderedSchemas) UnmarshalJSON(b []byte) error {
	keys, err := objectKeys(b)
	if err != nil {
		return err
	}
	o.keys = keys
	return json.Unmarshal(b, &o.m)
}

// objectKeys lists the keys of a JSON object in document order.
func objectKeys(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("want a JSON object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

type parameter struct {
	Name        string   `json:"name"`
	In          string   `json:"in"`
	Description string   `json:"description"`
	Required    bool     `json:"required"`
	Type        string   `json:"type"`
	Format      string   `json:"format"`
	Enum        []string `json:"enum"`
	Items       *schema  `json:"items"`
	Schema      *schema  `json:"schema"`
}

type operation struct {
	OperationID string               `json:"operationId"`
	Summary     string               `json:"summary"`
	Parameters  []parameter          `json:"parameters"`
	Responses   map[string]*response `json:"responses"`
}

type response struct {
	Schema *schema `json:"schema"`
}

type document struct {
	Swagger     string                           `json:"swagger"`
	Definitions map[string]*schema               `json:"definitions"`
	Paths       map[string]map[string]*operation `json:"paths"`
}

// Generate returns the TypeScript for the Swagger 2.0 document src; file
// names the document in errors and in the output's header.
func Generate(src []byte, file string) ([]byte, error) {
	var doc document
	if err := json.Unmarshal(src, &doc); err != nil {
		return nil, &Error{File: file, Msg: "not a JSON OpenAPI document: " + err.Error()}
	}
	if doc.Swagger != "2.0" {
		return nil, &Error{File: file, Pointer: "#/swagger", Msg: fmt.Sprintf("want \"2.0\", got %q (protoc-gen-openapiv2 writes Swagger 2.0)", doc.Swagger)}
	}
	g := &gen{file: file, defs: doc.Definitions}
	fmt.Fprintf(&g.b, "// Code generated by tsapi from %s. DO NOT EDIT.\n", file)
	g.b.WriteString("// Regenerate with `go tool mage generate` (package internal/toolchain/tsapi).\n")

	names := make([]string, 0, len(doc.Definitions))
	for n := range doc.Definitions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := g.definition(n, doc.Definitions[n]); err != nil {
			return nil, err
		}
	}
	if err := g.operations(doc.Paths); err != nil {
		return nil, err
	}
	return g.b.Bytes(), nil
}

type gen struct {
	file string
	defs map[string]*schema
	b    bytes.Buffer
}

func (g *gen) errorf(ptr, format string, args ...any) error {
	return &Error{File: g.file, Pointer: ptr, Msg: fmt.Sprintf(format, args...)}
}

// comment writes text as a JSDoc block at indent.
func (g *gen) comment(indent, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	text = strings.ReplaceAll(text, "*/", "*\\/")
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		fmt.Fprintf(&g.b, "%s/** %s */\n", indent, lines[0])
		return
	}
	fmt.Fprintf(&g.b, "%s/**\n", indent)
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			fmt.Fprintf(&g.b, "%s *\n", indent)
			continue
		}
		fmt.Fprintf(&g.b, "%s * %s\n", indent, strings.TrimRight(l, " \t"))
	}
	fmt.Fprintf(&g.b, "%s */\n", indent)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func propName(s string) string {
	if isIdent(s) {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}

func (g *gen) definition(name string, s *schema) error {
	ptr := "#/definitions/" + name
	if !isIdent(name) {
		return g.errorf(ptr, "definition name is not a TypeScript identifier")
	}
	g.b.WriteString("\n")
	g.comment("", firstNonEmpty(s.Description, s.Title))
	switch {
	case len(s.Enum) > 0:
		if s.Type != "string" {
			return g.errorf(ptr, "enum of type %q: only string enums are supported (protojson writes enum names)", s.Type)
		}
		fmt.Fprintf(&g.b, "export type %s = %s;\n", name, literals(s.Enum))
		return nil
	case s.Type == "object" || (s.Type == "" && s.Ref == ""):
		return g.object(name, s, ptr)
	default:
		t, err := g.typeOf(s, ptr)
		if err != nil {
			return err
		}
		fmt.Fprintf(&g.b, "export type %s = %s;\n", name, t)
		return nil
	}
}

func (g *gen) object(name string, s *schema, ptr string) error {
	extra, err := g.additional(s.AdditionalProperties, ptr)
	if err != nil {
		return err
	}
	if len(s.Properties.keys) == 0 && !extra {
		fmt.Fprintf(&g.b, "export type %s = Record<string, never>;\n", name)
		return nil
	}
	fmt.Fprintf(&g.b, "export interface %s {\n", name)
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	for _, k := range s.Properties.keys {
		p := s.Properties.m[k]
		pptr := ptr + "/properties/" + k
		t, err := g.typeOf(p, pptr)
		if err != nil {
			return err
		}
		g.comment("  ", firstNonEmpty(p.Description, p.Title))
		ro := ""
		if p.ReadOnly {
			ro = "readonly "
		}
		opt := "?"
		if required[k] {
			opt = ""
		}
		fmt.Fprintf(&g.b, "  %s%s%s: %s;\n", ro, propName(k), opt, t)
	}
	if extra {
		g.b.WriteString("  [key: string]: unknown;\n")
	}
	g.b.WriteString("}\n")
	return nil
}

// additional reads additionalProperties: absent or false means none; true
// or a schema means arbitrary extra members.
func (g *gen) additional(raw json.RawMessage, ptr string) (bool, error) {
	if len(raw) == 0 || string(raw) == "false" {
		return false, nil
	}
	if string(raw) == "true" || (len(raw) > 0 && raw[0] == '{') {
		return true, nil
	}
	return false, g.errorf(ptr+"/additionalProperties", "want a boolean or a schema")
}

// typeOf is the TypeScript type of a schema used in a property, an item or
// a parameter.
func (g *gen) typeOf(s *schema, ptr string) (string, error) {
	if s == nil {
		return "", g.errorf(ptr, "missing schema")
	}
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
		if !ok || g.defs[name] == nil {
			return "", g.errorf(ptr+"/$ref", "%q names no definition of this document", s.Ref)
		}
		return name, nil
	}
	if len(s.Enum) > 0 {
		return literals(s.Enum), nil
	}
	return g.scalar(s.Type, s.Format, s.Items, s.AdditionalProperties, ptr)
}

func (g *gen) scalar(typ, format string, items *schema, addl json.RawMessage, ptr string) (string, error) {
	switch typ {
	case "string":
		return "string", nil // also int64 (protojson), byte (base64), date-time (RFC 3339)
	case "integer":
		switch format {
		case "int32", "uint32", "":
			return "number", nil
		case "int64", "uint64":
			return "string", nil
		}
		return "", g.errorf(ptr, "unsupported integer format %q", format)
	case "number":
		return "number", nil
	case "boolean":
		return "boolean", nil
	case "array":
		t, err := g.typeOf(items, ptr+"/items")
		if err != nil {
			return "", err
		}
		if strings.Contains(t, "|") {
			t = "(" + t + ")"
		}
		return t + "[]", nil
	case "object":
		// A proto map: additionalProperties is the value's schema.
		if len(addl) > 0 && addl[0] == '{' {
			var v schema
			if err := json.Unmarshal(addl, &v); err != nil {
				return "", g.errorf(ptr+"/additionalProperties", "%v", err)
			}
			t, err := g.typeOf(&v, ptr+"/additionalProperties")
			if err != nil {
				return "", err
			}
			return "Record<string, " + t + ">", nil
		}
		extra, err := g.additional(addl, ptr)
		if err != nil {
			return "", err
		}
		if extra {
			return "Record<string, unknown>", nil
		}
		return "Record<string, never>", nil
	}
	return "", g.errorf(ptr, "unsupported type %q", typ)
}

func literals(vals []string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		q, _ := json.Marshal(v)
		parts[i] = string(q)
	}
	return strings.Join(parts, " | ")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

var methodOrder = []string{"get", "put", "post", "delete", "options", "head", "patch"}

type op struct {
	id, method, path string
	o                *operation
}

func (g *gen) operations(paths map[string]map[string]*operation) error {
	var ops []op
	for p, methods := range paths {
		for _, m := range methodOrder {
			if o, ok := methods[m]; ok {
				ptr := "#/paths/" + strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1") + "/" + m
				if !isIdent(o.OperationID) {
					return g.errorf(ptr+"/operationId", "%q is not an identifier", o.OperationID)
				}
				ops = append(ops, op{id: o.OperationID, method: strings.ToUpper(m), path: p, o: o})
			}
		}
		for m := range methods {
			if !contains(methodOrder, m) && !strings.HasPrefix(m, "x-") && m != "parameters" {
				return g.errorf("#/paths/"+p, "unknown method %q", m)
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	g.b.WriteString("\n/** Every operation of the API: method, path template, parameters, body and response. */\n")
	g.b.WriteString("export interface Operations {\n")
	for _, o := range ops {
		if err := g.operation(o); err != nil {
			return err
		}
	}
	g.b.WriteString("}\n\n/** The name of an operation (its operationId). */\nexport type OperationId = keyof Operations;\n")
	g.b.WriteString("\n/** Method and path template of every operation, for the API client. */\nexport const operationRoutes = {\n")
	for _, o := range ops {
		fmt.Fprintf(&g.b, "  %s: { method: %q, path: %q },\n", o.id, o.method, o.path)
	}
	g.b.WriteString("} as const satisfies { [K in OperationId]: Pick<Operations[K], \"method\" | \"path\"> };\n")
	return nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func (g *gen) operation(o op) error {
	ptr := "#/paths/" + strings.ReplaceAll(o.path, "/", "~1") + "/" + strings.ToLower(o.method)
	g.comment("  ", o.o.Summary)
	fmt.Fprintf(&g.b, "  %s: {\n", o.id)
	fmt.Fprintf(&g.b, "    method: %q;\n", o.method)
	fmt.Fprintf(&g.b, "    path: %q;\n", o.path)
	var pathP, queryP []string
	body := "never"
	for i, p := range o.o.Parameters {
		pp := fmt.Sprintf("%s/parameters/%d", ptr, i)
		switch p.In {
		case "body":
			t, err := g.typeOf(p.Schema, pp+"/schema")
			if err != nil {
				return err
			}
			body = t
		case "path", "query":
			var t string
			var err error
			if len(p.Enum) > 0 {
				t = literals(p.Enum)
			} else {
				t, err = g.scalar(p.Type, p.Format, p.Items, nil, pp)
			}
			if err != nil {
				return err
			}
			opt := "?"
			if p.Required || p.In == "path" {
				opt = ""
			}
			line := fmt.Sprintf("%s%s: %s;", propName(p.Name), opt, t)
			if p.In == "path" {
				pathP = append(pathP, line)
			} else {
				queryP = append(queryP, line)
			}
		default:
			return g.errorf(pp+"/in", "unsupported parameter location %q", p.In)
		}
	}
	fmt.Fprintf(&g.b, "    pathParams: %s;\n", inline(pathP))
	fmt.Fprintf(&g.b, "    query: %s;\n", inline(queryP))
	fmt.Fprintf(&g.b, "    body: %s;\n", body)
	ok := o.o.Responses["200"]
	if ok == nil || ok.Schema == nil {
		return g.errorf(ptr+"/responses", "no 200 response with a schema")
	}
	t, err := g.typeOf(ok.Schema, ptr+"/responses/200/schema")
	if err != nil {
		return err
	}
	fmt.Fprintf(&g.b, "    response: %s;\n", t)
	g.b.WriteString("  };\n")
	return nil
}

func inline(members []string) string {
	if len(members) == 0 {
		return "Record<string, never>"
	}
	return "{ " + strings.Join(members, " ") + " }"
}

// WriteFile regenerates OutputPath from SwaggerPath under root and writes it
// only when its content changed. It reports whether it wrote.
func WriteFile(root string) (bool, error) {
	src, err := os.ReadFile(filepath.Join(root, SwaggerPath))
	if err != nil {
		return false, fmt.Errorf("tsapi: read the OpenAPI document: %w", err)
	}
	out, err := Generate(src, SwaggerPath)
	if err != nil {
		return false, fmt.Errorf("tsapi: %w", err)
	}
	dst := filepath.Join(root, OutputPath)
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, out) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("tsapi: %w", err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil { //nolint:gosec // G703: a fixed path under the repository root
		return false, fmt.Errorf("tsapi: write %s: %w", OutputPath, err)
	}
	return true, nil
}
