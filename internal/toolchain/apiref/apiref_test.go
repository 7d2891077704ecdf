package apiref

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const root = "../../.."

// The served document is the swagger converted to OpenAPI 3 with every
// path and schema kept, and the page names every operation and schema;
// the committed files are what Write generates (mage ci checks that too).
func TestConvertKeepsTheContract(t *testing.T) {
	t.Parallel()
	swagger, err := os.ReadFile(filepath.Join(root, SwaggerPath))
	require.NoError(t, err)
	var v2 struct {
		Paths       map[string]map[string]struct{ OperationID string } `json:"paths"`
		Definitions map[string]any                                     `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(swagger, &v2))

	doc, js, err := Convert(swagger)
	require.NoError(t, err)
	var v3 struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(js, &v3))
	require.True(t, strings.HasPrefix(v3.OpenAPI, "3.0"), v3.OpenAPI)
	require.Len(t, v3.Paths, len(v2.Paths))
	require.Len(t, v3.Components.Schemas, len(v2.Definitions))

	page, err := Reference(doc)
	require.NoError(t, err)
	html := string(page)
	require.Contains(t, html, "DO NOT EDIT")
	for path, ops := range v2.Paths {
		require.Contains(t, html, "<code>"+path+"</code>")
		for _, op := range ops {
			require.Contains(t, html, `id="`+op.OperationID+`"`)
		}
	}
	for name := range v2.Definitions {
		require.Contains(t, html, `id="schema-`+name+`"`)
	}
	// Nothing fetched from elsewhere, no script.
	require.NotContains(t, html, "<script")
	require.NotContains(t, html, "<style", "the origin's CSP allows no inline styles")
	require.NotContains(t, html, "style=")
	require.NotContains(t, html, "http://")
	require.NotContains(t, html, "https://")

	for path, want := range map[string][]byte{OpenAPIPath: js, ReferencePath: page, StylePath: []byte(style)} {
		got, err := os.ReadFile(filepath.Join(root, path))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s is stale: go tool mage generate", path)
	}
}

// A document that does not convert is refused with the reason.
func TestConvertRefusesBadInput(t *testing.T) {
	t.Parallel()
	_, _, err := Convert([]byte(`{"swagger": "2.0", "paths": {"/x": {"get": {"responses": {"200": {"schema": {"$ref": "#/definitions/Missing"}}}}}}}`))
	require.Error(t, err)
	_, _, err = Convert([]byte(`not json`))
	require.ErrorContains(t, err, "read the OpenAPI 2 document")
}
