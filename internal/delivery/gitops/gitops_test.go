package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/shared/logtest"
)

// sourceRepo makes a source repository with a line of n commits and
// returns its path and the commits, oldest first.
func sourceRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	wt, err := repo.Worktree()
	require.NoError(t, err)
	var commits []string
	for i := range n {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte{byte('a' + i)}, 0o644))
		_, err := wt.Add("f")
		require.NoError(t, err)
		h, err := wt.Commit("c", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@x", When: time.Unix(int64(1000+i), 0)}})
		require.NoError(t, err)
		commits = append(commits, h.String())
	}
	return dir, commits
}

// manifestRepo is an empty bare repository, as a new manifest repository
// on a Git host is.
func manifestRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	require.NoError(t, err)
	return dir
}

func release(source, body string) func(context.Context) (Release, error) {
	return func(context.Context) (Release, error) {
		return Release{Source: source, Owned: []string{"clusters/prod"}, Files: map[string][]byte{
			"clusters/prod/apps/manifests.yaml": []byte(body), "clusters/prod/kustomization.yaml": []byte("resources: [apps/manifests.yaml]\n"),
		}}, nil
	}
}

// head reads the manifest repository's main: its files and log length.
func head(t *testing.T, bare string) (map[string]string, int) {
	t.Helper()
	repo, err := git.PlainOpen(bare)
	require.NoError(t, err)
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	require.NoError(t, err)
	c, err := repo.CommitObject(ref.Hash())
	require.NoError(t, err)
	files := map[string]string{}
	iter, err := c.Files()
	require.NoError(t, err)
	require.NoError(t, iter.ForEach(func(f *object.File) error {
		s, err := f.Contents()
		files[f.Name] = s
		return err
	}))
	log, err := repo.Log(&git.LogOptions{From: ref.Hash()})
	require.NoError(t, err)
	n := 0
	require.NoError(t, log.ForEach(func(*object.Commit) error { n++; return nil }))
	return files, n
}

func TestPublishFirstNoopChangeAndOlder(t *testing.T) {
	t.Parallel()
	src, commits := sourceRepo(t, 3)
	bare := manifestRepo(t)
	p := Publisher{URL: bare, SourceRepo: src}
	ctx := t.Context()

	// First publish into an empty repository.
	res, err := p.Publish(ctx, release(commits[1], "image: server@sha256:1\n"))
	require.NoError(t, err)
	require.True(t, res.Committed)
	files, n := head(t, bare)
	require.Equal(t, 1, n)
	require.Equal(t, "image: server@sha256:1\n", files["clusters/prod/apps/manifests.yaml"])
	require.Equal(t, commits[1]+"\n", files[SourceFile])

	// The same release again: no commit.
	res, err = p.Publish(ctx, release(commits[1], "image: server@sha256:1\n"))
	require.NoError(t, err)
	require.False(t, res.Committed)
	_, n = head(t, bare)
	require.Equal(t, 1, n)

	// A newer source with a change: one commit that names the source;
	// files the release no longer has are gone.
	res, err = p.Publish(ctx, func(context.Context) (Release, error) {
		return Release{Source: commits[2], Owned: []string{"clusters/prod"}, Files: map[string][]byte{"clusters/prod/apps/manifests.yaml": []byte("image: server@sha256:2\n")}}, nil
	})
	require.NoError(t, err)
	require.True(t, res.Committed)
	files, n = head(t, bare)
	require.Equal(t, 2, n)
	require.Equal(t, "image: server@sha256:2\n", files["clusters/prod/apps/manifests.yaml"])
	require.NotContains(t, files, "clusters/prod/kustomization.yaml")
	repo, err := git.PlainOpen(bare)
	require.NoError(t, err)
	c, err := repo.CommitObject(plumbing.NewHash(res.Commit))
	require.NoError(t, err)
	require.Contains(t, c.Message, "Source-Commit: "+commits[2])

	// An older source commit is refused and changes nothing.
	_, err = p.Publish(ctx, release(commits[0], "image: server@sha256:0\n"))
	require.ErrorIs(t, err, ErrOlder)
	files, n = head(t, bare)
	require.Equal(t, 2, n)
	require.Equal(t, commits[2]+"\n", files[SourceFile])

	// A source commit the source repository does not know: refused.
	_, err = p.Publish(ctx, release(strings.Repeat("ab", 20), "x\n"))
	require.ErrorContains(t, err, "is not in")
}

// Two publishers at once: one push is rejected, that publisher starts over
// from the other's commit, and both releases land in order.
func TestTwoPublishersAtOnce(t *testing.T) {
	t.Parallel()
	src, commits := sourceRepo(t, 2)
	bare := manifestRepo(t)
	var out logtest.Buffer
	p := Publisher{URL: bare, SourceRepo: src, Attempts: 10, Out: &out}
	_, err := p.Publish(t.Context(), release(commits[0], "v0\n"))
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	bodies := []string{"a\n", "b\n"}
	for i := range 2 {
		wg.Go(func() {
			// Both publish the newer source, with different files (as two
			// runs that rendered different overlays would).
			_, errs[i] = p.Publish(t.Context(), release(commits[1], bodies[i]))
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	files, n := head(t, bare)
	require.Equal(t, 3, n, "each publisher committed once, neither lost")
	require.Contains(t, bodies, files["clusters/prod/apps/manifests.yaml"])
	t.Log(out.String())
}

func TestReleaseMustStayUnderItsRoot(t *testing.T) {
	t.Parallel()
	src, commits := sourceRepo(t, 1)
	p := Publisher{URL: manifestRepo(t), SourceRepo: src}
	_, err := p.Publish(t.Context(), func(context.Context) (Release, error) {
		return Release{Source: commits[0], Owned: []string{"clusters/prod"}, Files: map[string][]byte{"clusters/prod/../../SOURCE": []byte("x")}}, nil
	})
	require.ErrorContains(t, err, "is outside [clusters/prod]")
	_, err = p.Publish(t.Context(), func(context.Context) (Release, error) {
		return Release{Source: commits[0], Owned: []string{"."}, Files: map[string][]byte{"x": []byte("x")}}, nil
	})
	require.ErrorContains(t, err, `may not own "."`)
}

// The prod overlay, rendered per stage and pinned to exactly the pushed
// digests (no placeholder left), and one Flux Kustomization per stage that
// decodes strictly into Flux's type, points at its stage's directory, and
// depends on the stage before: a chain covering every stage once.
func TestPublisherFromEnv(t *testing.T) {
	t.Parallel()
	get := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	p, err := PublisherFromEnv(get("MANIFEST_REPO_URL", "https://github.com/acme/manifests.git", "MANIFEST_REPO_TOKEN", "s3cret"), ".")
	require.NoError(t, err)
	require.NotNil(t, p.Auth)
	p, err = PublisherFromEnv(get("MANIFEST_REPO_URL", "/srv/manifests.git"), ".")
	require.NoError(t, err)
	require.Nil(t, p.Auth)
	for want, env := range map[string]func(string) string{
		"MANIFEST_REPO_URL is not set":         get(),
		"put the token in MANIFEST_REPO_TOKEN": get("MANIFEST_REPO_URL", "https://u:s3cret@github.com/acme/m.git"),
		"only sent over https":                 get("MANIFEST_REPO_URL", "http://git.local/m.git", "MANIFEST_REPO_TOKEN", "s3cret"),
	} {
		_, err := PublisherFromEnv(env, ".")
		require.ErrorContains(t, err, want)
		require.NotContains(t, err.Error(), "s3cret", "errors never carry the token")
	}
}
