package protogen

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDiagnosticString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Path: "server/proto/a.proto", Line: 3, Column: 7, Rule: "COMPILE", Message: "syntax error"},
			"server/proto/a.proto:3:7: syntax error"},
		{Diagnostic{Path: "server/proto/a.proto", Line: 3, Column: 7, Rule: "ENUM_ZERO_VALUE_SUFFIX", Message: "bad"},
			"server/proto/a.proto:3:7: bad (ENUM_ZERO_VALUE_SUFFIX)"},
		{Diagnostic{Path: "server/proto/a.proto", Line: 9, Rule: "FORMAT", Message: "not formatted"},
			"server/proto/a.proto:9: not formatted (FORMAT)"},
		{Diagnostic{Path: "server", Message: "no position"}, "server: no position"},
	} {
		require.Equal(t, tc.want, tc.d.String())
	}
}

func TestParseAnnotationsKeepsTheRestOfTheOutput(t *testing.T) {
	t.Parallel()
	out := []byte(`{"path":"proto/a/v1/a.proto","start_line":92,"start_column":3,"end_line":92,"end_column":9,"type":"COMPILE","message":"unexpected ` + "`string`" + `"}
Failure: plugin go tool protoc-gen-openapiv2: exit status 1
{"path":"proto/a/v1/b.proto","start_line":1,"start_column":1,"type":"PACKAGE_DIRECTORY_MATCH","message":"wrong dir"}
{not json
`)
	diags, rest := parseAnnotations(out, "server")
	require.Equal(t, []Diagnostic{
		{Path: "server/proto/a/v1/a.proto", Line: 92, Column: 3, Rule: "COMPILE", Message: "unexpected `string`"},
		{Path: "server/proto/a/v1/b.proto", Line: 1, Column: 1, Rule: "PACKAGE_DIRECTORY_MATCH", Message: "wrong dir"},
	}, diags)
	require.Equal(t, "Failure: plugin go tool protoc-gen-openapiv2: exit status 1\n{not json\n", string(rest))
}

func TestParseFormatDiffPointsAtTheFirstChange(t *testing.T) {
	t.Parallel()
	diff := []byte(`diff -u proto/a.proto.orig proto/a.proto
--- proto/a.proto.orig	2026-11-25 23:30:39.352379506 +0000
+++ proto/a.proto	2026-11-25 23:30:39.352379506 +0000
@@ -86,7 +86,7 @@
   // context
   string id = 1;
   // more context
-  string   owner_id = 2;
+  string owner_id = 2;
   string name = 3;
@@ -120,3 +120,3 @@
-x
+y
diff -u proto/b.proto.orig proto/b.proto
--- proto/b.proto.orig	2026-11-25 23:30:39.352379506 +0000
+++ proto/b.proto	2026-11-25 23:30:39.352379506 +0000
@@ -0,0 +1,1 @@
+syntax = "proto3";
`)
	require.Equal(t, []Diagnostic{
		{Path: "server/proto/a.proto", Line: 89, Rule: "FORMAT", Message: "not formatted"},
		{Path: "server/proto/b.proto", Line: 1, Rule: "FORMAT", Message: "not formatted"},
	}, parseFormatDiff(diff, "server"))
}

func TestErrorSaysWhatFailedAndWhere(t *testing.T) {
	t.Parallel()
	exit := errors.New("exit status 100")
	err := error(&Error{Step: "lint", Dir: "server", Err: exit, Diagnostics: []Diagnostic{
		{Path: "server/proto/a.proto", Line: 1, Column: 2, Rule: "R1", Message: "m1"},
		{Path: "server/proto/b.proto", Line: 3, Column: 4, Rule: "R2", Message: "m2"},
	}})
	require.Equal(t, "buf lint in server: 2 problems\n  server/proto/a.proto:1:2: m1 (R1)\n  server/proto/b.proto:3:4: m2 (R2)", err.Error())
	require.ErrorIs(t, err, exit)

	err = &Error{Step: "generate", Dir: "server", Err: exit, Output: "Failure: plugin crashed"}
	require.Equal(t, "buf generate in server: exit status 100\nFailure: plugin crashed", err.Error())
}
