// Package requesttest sends one HTTP request for a test and reads the whole
// answer, failing the test if the request cannot be made or its body read.
package requesttest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Do sends a method request to url with body (none when empty) and header,
// bound to the test's context, and returns the response with its body
// read and closed.
func Do(t testing.TB, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, raw
}

// Get sends a GET to url with header and returns the status and the body.
func Get(t testing.TB, url string, header map[string]string) (int, string) {
	t.Helper()
	resp, body := Do(t, http.MethodGet, url, "", header)
	return resp.StatusCode, string(body)
}
