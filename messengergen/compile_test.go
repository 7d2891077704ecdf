package messengergen_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/messengergen"
)

// directStubs are the packages testdata/ok_direct/routing.yaml names: just
// enough for its generated files to type-check. Auth is a non-pointer type
// with value methods, Cache a generic type, and Store's field name is also
// an import alias.
var directStubs = map[string]string{
	"example.com/app/account": `package account
type GetAccountRequest struct{ ID string }
type DeleteAccountRequest struct{ ID string }
type Account struct{ ID string }
`,
	"example.com/app/middleware": `package middleware
import (
	"context"
	acct "example.com/app/account"
)
type Auth struct{ Deny bool }
func (a Auth) HandleGetAccount(ctx context.Context, msg *acct.GetAccountRequest, next interface {
	Send(context.Context, *acct.GetAccountRequest) (*acct.Account, error)
}) (*acct.Account, error) {
	return next.Send(ctx, msg)
}
func (a Auth) HandleDeleteAccount(ctx context.Context, msg *acct.DeleteAccountRequest, next interface {
	Send(context.Context, *acct.DeleteAccountRequest) (struct{}, error)
}) (struct{}, error) {
	return next.Send(ctx, msg)
}
type Audit struct{ n int }
func (a *Audit) HandleDeleteAccount(ctx context.Context, msg *acct.DeleteAccountRequest, next interface {
	Send(context.Context, *acct.DeleteAccountRequest) (struct{}, error)
}) (struct{}, error) {
	a.n++
	return next.Send(ctx, msg)
}
`,
	"example.com/app/cache": `package cache
import (
	"context"
	acct "example.com/app/account"
)
type LRU[K comparable, V any] struct{ m map[K]V }
func (c *LRU[K, V]) HandleGetAccount(ctx context.Context, msg *acct.GetAccountRequest, next interface {
	Send(context.Context, *acct.GetAccountRequest) (*acct.Account, error)
}) (*acct.Account, error) {
	return next.Send(ctx, msg)
}
`,
	"example.com/app/store": `package store
import (
	"context"
	acct "example.com/app/account"
)
type Accounts struct{}
func (*Accounts) HandleGetAccount(context.Context, *acct.GetAccountRequest) (*acct.Account, error) { return nil, nil }
func (*Accounts) HandleDeleteAccount(context.Context, *acct.DeleteAccountRequest) (struct{}, error) { return struct{}{}, nil }
`,
}

// TestDirectDispatchTypeChecks type-checks the files generated from
// testdata/ok_direct against stub handler packages: the golden files pin
// the text, this pins that it is valid Go for non-pointer, generic and
// alias-named handler types, and that the test messenger of the same
// handlers accepts them as interfaces.
func TestDirectDispatchTypeChecks(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "ok_direct", "routing.yaml"))
	require.NoError(t, err)
	files, err := messengergen.Generate(src, "routing.yaml", messengergen.Options{})
	require.NoError(t, err)

	fset := token.NewFileSet()
	imp := &stubImporter{fset: fset, std: importer.Default(), pkgs: map[string]*types.Package{}, src: directStubs}
	check := func(path string, names ...string) *types.Package {
		t.Helper()
		var asts []*ast.File
		for _, name := range names {
			content, ok := files[name]
			require.True(t, ok, "no generated file %s", name)
			f, err := parser.ParseFile(fset, name, content, 0)
			require.NoError(t, err)
			asts = append(asts, f)
		}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, asts, nil)
		require.NoError(t, err, "type-checking %s", strings.Join(names, ", "))
		return pkg
	}
	imp.pkgs["example.com/app/messenger"] = check("example.com/app/messenger", "messenger/messenger.go")
	check("example.com/app/messenger_test", "messenger/messenger_handlers_test.go")
	check("example.com/app/messenger/testmessenger", "messenger/testmessenger/messenger.go")
}

// stubImporter imports the standard library from export data and the
// packages of src from source.
type stubImporter struct {
	fset *token.FileSet
	std  types.Importer
	pkgs map[string]*types.Package
	src  map[string]string
}

func (im *stubImporter) Import(path string) (*types.Package, error) {
	if pkg, ok := im.pkgs[path]; ok {
		return pkg, nil
	}
	src, ok := im.src[path]
	if !ok {
		return im.std.Import(path)
	}
	f, err := parser.ParseFile(im.fset, path+".go", src, 0)
	if err != nil {
		return nil, err
	}
	pkg, err := (&types.Config{Importer: im}).Check(path, im.fset, []*ast.File{f}, nil)
	if err != nil {
		return nil, err
	}
	im.pkgs[path] = pkg
	return pkg, nil
}
