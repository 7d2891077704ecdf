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

// Response is an answer read whole: the body is read and closed by Do.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Do sends a method request to url with body (none when empty) and header,
// bound to the test's context, and returns the answer read whole.
func Do(t testing.TB, method, url, body string, header map[string]string) Response {
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
	return Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Get sends a GET to url with header and returns the status and the body.
func Get(t testing.TB, url string, header map[string]string) (int, string) {
	t.Helper()
	resp := Do(t, http.MethodGet, url, "", header)
	return resp.StatusCode, string(resp.Body)
}
