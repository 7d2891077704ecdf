package images

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"
)

// images:push pushes every image by digest to a TLS registry and records
// what it pushed; the record reads back only when it names every image by
// digest.
func TestPushAllRecordsDigests(t *testing.T) {
	t.Parallel()
	reg, _ := tlsRegistry(t, nil)
	idx := buildHello(t, Platforms[:1])
	built := 0
	build := func(context.Context, string) (v1.ImageIndex, error) { built++; return idx, nil }
	p, err := PushAll(t.Context(), reg, build, "0123abc", io.Discard)
	require.NoError(t, err)
	require.Equal(t, len(Names), built)
	d, err := idx.Digest()
	require.NoError(t, err)
	for _, n := range Names {
		require.Equal(t, reg.Prefix+"/"+n+"@"+d.String(), p.Images[n])
		pulled, err := reg.Pull(t.Context(), p.Images[n])
		require.NoError(t, err)
		pd, err := pulled.Digest()
		require.NoError(t, err)
		require.Equal(t, d, pd)
	}
	path := filepath.Join(t.TempDir(), "pushed.json")
	require.NoError(t, p.Write(path))
	back, err := ReadPushed(path)
	require.NoError(t, err)
	require.Equal(t, p, back)
}

func TestReadPushedRefusesIncompleteRecords(t *testing.T) {
	t.Parallel()
	digest := "@sha256:" + strings.Repeat("a", 64)
	full := func() Pushed {
		p := Pushed{Source: "0123abc", Images: map[string]string{}}
		for _, n := range Names {
			p.Images[n] = "ghcr.io/acme/" + n + digest
		}
		return p
	}
	require.NoError(t, full().Validate())
	for name, c := range map[string]struct {
		mutate func(*Pushed)
		want   string
	}{
		"no source":     {func(p *Pushed) { p.Source = "" }, "no source commit"},
		"missing image": {func(p *Pushed) { delete(p.Images, "kratos") }, "image kratos is missing"},
		"by tag":        {func(p *Pushed) { p.Images["server"] = "ghcr.io/acme/server:latest" }, "is not repository@sha256"},
		"unknown image": {func(p *Pushed) { p.Images["extra"] = "ghcr.io/acme/extra" + digest }, "image extra is none of"},
	} {
		p := full()
		c.mutate(&p)
		path := filepath.Join(t.TempDir(), "pushed.json")
		require.ErrorContains(t, p.Write(path), c.want, name)
		require.NoFileExists(t, path, "a bad record is never written")
	}
	path := filepath.Join(t.TempDir(), "pushed.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"source":"x","images":{},"tags":[]}`), 0o644))
	_, err := ReadPushed(path)
	require.ErrorContains(t, err, `unknown field "tags"`)
	_, err = ReadPushed(filepath.Join(t.TempDir(), "none.json"))
	require.ErrorContains(t, err, "go tool mage images:push writes them")
}
