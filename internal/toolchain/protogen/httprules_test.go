package protogen

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRPCsPositionsEachMethod(t *testing.T) {
	t.Parallel()
	image := []byte(`{"file":[{"name":"a/v1/a.proto","package":"a.v1",
		"service":[{"name":"S","method":[{"name":"M1"},{"name":"M2"}]}],
		"sourceCodeInfo":{"location":[
			{"path":[6,0],"span":[4,0,9,1]},
			{"path":[6,0,2,0],"span":[5,2,40]},
			{"path":[6,0,2,1],"span":[7,2,8,3]},
			{"path":[6,0,2,1,1],"span":[7,6,8]}]}},
		{"name":"a/v1/b.proto","package":"a.v1","service":[{"name":"T","method":[{"name":"N"}]}]}]}`)
	rpcs, err := parseRPCs(image)
	require.NoError(t, err)
	require.Equal(t, []rpc{
		{File: "a/v1/a.proto", Package: "a.v1", Service: "S", Method: "M1", Line: 6, Column: 3},
		{File: "a/v1/a.proto", Package: "a.v1", Service: "S", Method: "M2", Line: 8, Column: 3},
		{File: "a/v1/b.proto", Package: "a.v1", Service: "T", Method: "N"},
	}, rpcs)

	_, err = parseRPCs([]byte("not json"))
	require.Error(t, err)
}

func TestOpenAPIOperationsReadsEveryDocument(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "v1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "one.swagger.json"), []byte(`{"paths":{
		"/x/{id}":{"parameters":[{"name":"id"}],"get":{"operationId":"S_Get"},"delete":{"operationId":"S_Delete"}}}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "v1", "two.swagger.json"), []byte(`{"paths":{"/y":{"post":{"operationId":"T_Create"}}}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a document"), 0o644))

	ops, err := openAPIOperations(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"S_Get": true, "S_Delete": true, "T_Create": true}, ops)
}

func TestOpenAPIOperationsFailsWithoutADocument(t *testing.T) {
	t.Parallel()
	_, err := openAPIOperations(t.TempDir())
	require.ErrorContains(t, err, "no *.swagger.json under")

	_, err = openAPIOperations(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "read the generated OpenAPI documents")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.swagger.json"), []byte("{"), 0o644))
	_, err = openAPIOperations(dir)
	require.ErrorContains(t, err, "bad.swagger.json")
}
