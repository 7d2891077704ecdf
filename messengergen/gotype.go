package messengergen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"strings"
)

// goType is a Go type expression from the spec, checked and printed canonically.
type goType struct {
	expr    string   // canonical form, e.g. "*api.CreateAccountRequest"
	aliases []string // import aliases it qualifies names with, in order of appearance
	// named is true for an imported named type (alias.T, alias.T[...]) or a
	// pointer to one: the only types that can carry handler methods.
	named bool
	// pointer is true when the type is a pointer (*...).
	pointer bool
}

// parseGoType parses a Go type expression such as "*api.Request",
// "[]store.Row", "map[string]int" or "api.Page[*api.Account]". Named types
// from other packages are qualified with an import alias; unqualified names
// must be predeclared types.
func parseGoType(src string) (goType, error) {
	expr, err := parser.ParseExpr(src)
	if err != nil {
		return goType{}, fmt.Errorf("%q is not a Go type: %s", src, firstLine(err.Error()))
	}
	var t goType
	if err := t.check(expr); err != nil {
		return goType{}, fmt.Errorf("%q is not a supported Go type: %w", src, err)
	}
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, token.NewFileSet(), expr); err != nil {
		return goType{}, fmt.Errorf("printing type %q: %w", src, err)
	}
	t.expr = buf.String()
	if star, ok := expr.(*ast.StarExpr); ok {
		t.pointer = true
		expr = star.X
	}
	switch e := expr.(type) {
	case *ast.SelectorExpr:
		t.named = true
	case *ast.IndexExpr:
		_, t.named = e.X.(*ast.SelectorExpr)
	case *ast.IndexListExpr:
		_, t.named = e.X.(*ast.SelectorExpr)
	}
	return t, nil
}

func (t *goType) check(e ast.Expr) error {
	switch e := e.(type) {
	case *ast.Ident:
		obj := types.Universe.Lookup(e.Name)
		if _, isType := obj.(*types.TypeName); !isType || e.Name == "comparable" {
			return fmt.Errorf("%s is not a predeclared type; qualify named types with an import alias (alias.%s)", e.Name, e.Name)
		}
		return nil
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			return fmt.Errorf("want alias.Type, got a longer selector")
		}
		if !e.Sel.IsExported() {
			return fmt.Errorf("%s.%s is not exported", pkg.Name, e.Sel.Name)
		}
		t.aliases = append(t.aliases, pkg.Name)
		return nil
	case *ast.StarExpr:
		return t.check(e.X)
	case *ast.ArrayType:
		if e.Len != nil {
			lit, ok := e.Len.(*ast.BasicLit)
			if !ok || lit.Kind != token.INT {
				return fmt.Errorf("array length must be an integer literal")
			}
		}
		return t.check(e.Elt)
	case *ast.MapType:
		if err := t.check(e.Key); err != nil {
			return err
		}
		return t.check(e.Value)
	case *ast.IndexExpr:
		if err := t.generic(e.X); err != nil {
			return err
		}
		return t.check(e.Index)
	case *ast.IndexListExpr:
		if err := t.generic(e.X); err != nil {
			return err
		}
		for _, idx := range e.Indices {
			if err := t.check(idx); err != nil {
				return err
			}
		}
		return nil
	case *ast.StructType:
		if e.Fields != nil && len(e.Fields.List) > 0 {
			return fmt.Errorf("struct types must be empty (struct{}); declare the type in Go")
		}
		return nil
	case *ast.InterfaceType:
		if e.Methods != nil && len(e.Methods.List) > 0 {
			return fmt.Errorf("interface types must be empty (interface{}); declare the type in Go")
		}
		return nil
	default:
		return fmt.Errorf("want a named, pointer, slice, array, map or generic type")
	}
}

// generic checks the type being instantiated in T[...]: it must be alias.Name.
func (t *goType) generic(e ast.Expr) error {
	if _, ok := e.(*ast.SelectorExpr); !ok {
		return fmt.Errorf("only imported generic types (alias.Type[...]) can be instantiated")
	}
	return t.check(e)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	// go/parser prefixes positions (1:5:) meaningful only inside the expression.
	if i := strings.Index(s, ": "); i >= 0 && strings.IndexFunc(s[:i], func(r rune) bool { return r != ':' && (r < '0' || r > '9') }) < 0 {
		s = s[i+2:]
	}
	return s
}
