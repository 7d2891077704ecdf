// Package gitops is `mage gitops:publish`: it commits the rendered
// manifests of a release to the manifest repository that Flux applies in
// the cluster, with go-git and no git binary.
//
// A publish clones the manifest repository, replaces the files under the
// release's root with the rendered ones, and commits and pushes only when
// they changed: publishing the same release twice changes nothing. The
// source commit is recorded in the repository (SourceFile) and in the
// commit message; a release whose source commit is older than the recorded
// one — its ancestor in the source repository — is refused, so a
// late-running publisher never moves a cluster backwards. When another
// publisher pushed first, the push is rejected; the publish then starts
// over from a fresh clone, re-rendering, and so is safe with two at once.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// SourceFile is the file at the manifest repository's root that holds the
// source commit of the release published last.
const SourceFile = "SOURCE"

// ErrOlder is returned for a release that would move the cluster back.
var ErrOlder = errors.New("refusing to publish an older source commit than the manifest repository has")

// Release is what one publish writes.
type Release struct {
	// Source is the source repository's commit the release was built from.
	Source string
	// Owned are the directories and files of the manifest repository the
	// release owns (deploy/prod, clusters/prod/groundwork.yaml): all of
	// them is replaced by Files; the rest of the repository (what flux
	// bootstrap commits to clusters/prod/flux-system) is left alone.
	Owned []string
	// Files are the release's files by path in the repository; each is
	// under one of Owned.
	Files map[string][]byte
}

// Publisher publishes releases to one manifest repository.
type Publisher struct {
	URL    string               // the manifest repository: a path, https:// or ssh://
	Branch string               // default main
	Auth   transport.AuthMethod // nil: none (a local path)
	// SourceRepo is the source repository's checkout, where the order of
	// source commits is looked up.
	SourceRepo string
	// Author signs the commits.
	Author object.Signature
	// Attempts bounds the retries after a rejected push (default 5).
	Attempts int
	Out      io.Writer
}

// Result says what a publish did.
type Result struct {
	Committed bool   // false: the repository already had exactly this release
	Commit    string // the manifest repository's head after the publish
}

// Publish renders a release (render runs again on every attempt, so a
// retry after a rejected push publishes what is current) and publishes
// it.
func (p Publisher) Publish(ctx context.Context, render func(context.Context) (Release, error)) (Result, error) {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	var lastErr error
	for i := range attempts {
		rel, err := render(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("render the release: %w", err)
		}
		res, err := p.publishOnce(ctx, rel)
		if !errors.Is(err, errRejected) {
			return res, err
		}
		lastErr = err
		fmt.Fprintf(p.out(), "gitops: push rejected (another publisher was first); attempt %d of %d, starting over\n", i+1, attempts)
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(time.Duration(i+1) * 100 * time.Millisecond):
		}
	}
	return Result{}, fmt.Errorf("gitops: gave up after %d attempts: %w", attempts, lastErr)
}

var errRejected = errors.New("push rejected")

func (p Publisher) out() io.Writer {
	if p.Out == nil {
		return io.Discard
	}
	return p.Out
}

func (p Publisher) branch() plumbing.ReferenceName {
	if p.Branch == "" {
		return plumbing.NewBranchReferenceName("main")
	}
	return plumbing.NewBranchReferenceName(p.Branch)
}

func (p Publisher) publishOnce(ctx context.Context, rel Release) (Result, error) {
	if rel.Source == "" || len(rel.Owned) == 0 || len(rel.Files) == 0 {
		return Result{}, errors.New("a release needs a source commit, the directories it owns and files")
	}
	dir, err := os.MkdirTemp("", "groundwork-gitops-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)

	repo, err := p.clone(ctx, dir)
	if err != nil {
		return Result{}, err
	}
	if recorded, err := os.ReadFile(filepath.Join(dir, SourceFile)); err == nil {
		if err := p.checkOrder(strings.TrimSpace(string(recorded)), rel.Source); err != nil {
			return Result{}, err
		}
	} else if !os.IsNotExist(err) {
		return Result{}, err
	}

	var owned []string
	for _, o := range rel.Owned {
		d := filepath.Join(dir, filepath.FromSlash(o))
		if d == dir || !strings.HasPrefix(d, dir+string(filepath.Separator)) || strings.Contains(o, ".git") {
			return Result{}, fmt.Errorf("a release may not own %q", o)
		}
		if err := os.RemoveAll(d); err != nil {
			return Result{}, err
		}
		owned = append(owned, d)
	}
	for name, data := range rel.Files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		inside := false
		for _, d := range owned {
			inside = inside || path == d || strings.HasPrefix(path, d+string(filepath.Separator))
		}
		if !inside {
			return Result{}, fmt.Errorf("release file %q is outside %v", name, rel.Owned)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return Result{}, err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return Result{}, err
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return Result{}, err
	}
	// The release's files alone decide whether anything changed; SOURCE
	// follows them.
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return Result{}, fmt.Errorf("stage the release: %w", err)
	}
	status, err := wt.Status()
	if err != nil {
		return Result{}, err
	}
	head, _ := repo.Head()
	if status.IsClean() && head != nil {
		fmt.Fprintf(p.out(), "gitops: %s already holds this release (source %s): nothing to commit\n", p.URL, short(rel.Source))
		return Result{Commit: head.Hash().String()}, nil
	}
	if err := os.WriteFile(filepath.Join(dir, SourceFile), []byte(rel.Source+"\n"), 0o644); err != nil {
		return Result{}, err
	}
	if _, err := wt.Add(SourceFile); err != nil {
		return Result{}, err
	}
	author := p.Author
	if author.Name == "" {
		author = object.Signature{Name: "groundwork gitops", Email: "gitops@groundwork.invalid"}
	}
	author.When = time.Now()
	msg := fmt.Sprintf("Publish %s from %s\n\nSource-Commit: %s\n", strings.Join(rel.Owned, ", "), short(rel.Source), rel.Source)
	hash, err := wt.Commit(msg, &git.CommitOptions{Author: &author})
	if err != nil {
		return Result{}, fmt.Errorf("commit the release: %w", err)
	}
	err = repo.PushContext(ctx, &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec(p.branch().String() + ":" + p.branch().String())},
		Auth:       p.Auth,
	})
	if err != nil {
		// Another publisher moved the branch first: the server refuses a
		// non-fast-forward, or (a repository written in place) fails the
		// ref update it lost the race for.
		if errors.Is(err, git.ErrNonFastForwardUpdate) || strings.Contains(err.Error(), "non-fast-forward") ||
			strings.Contains(err.Error(), "rejected") || strings.Contains(err.Error(), "failed to update ref") {
			return Result{}, fmt.Errorf("%w: %w", errRejected, err)
		}
		return Result{}, fmt.Errorf("push to %s: %w", p.URL, err)
	}
	fmt.Fprintf(p.out(), "gitops: committed %s to %s (source %s)\n", short(hash.String()), p.URL, short(rel.Source))
	return Result{Committed: true, Commit: hash.String()}, nil
}

// clone clones the branch, or starts the repository's first commit when
// the repository is empty.
func (p Publisher) clone(ctx context.Context, dir string) (*git.Repository, error) {
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL: p.URL, Auth: p.Auth, ReferenceName: p.branch(), SingleBranch: true, Depth: 1,
	})
	if err == nil {
		return repo, nil
	}
	if !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return nil, fmt.Errorf("clone the manifest repository %s: %w", p.URL, err)
	}
	_ = os.RemoveAll(dir)
	repo, err = git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: p.branch()},
	})
	if err != nil {
		return nil, err
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{p.URL}}); err != nil {
		return nil, err
	}
	return repo, nil
}

// checkOrder refuses a source commit that is an ancestor of the recorded
// one, or unrelated to it.
func (p Publisher) checkOrder(recorded, source string) error {
	if recorded == source {
		return nil
	}
	src, err := git.PlainOpenWithOptions(p.SourceRepo, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return fmt.Errorf("open the source repository to order commits: %w", err)
	}
	commit := func(h string) (*object.Commit, error) {
		c, err := src.CommitObject(plumbing.NewHash(h))
		if err != nil {
			return nil, fmt.Errorf("source commit %s is not in %s (fetch its history): %w", short(h), p.SourceRepo, err)
		}
		return c, nil
	}
	rec, err := commit(recorded)
	if err != nil {
		return err
	}
	cur, err := commit(source)
	if err != nil {
		return err
	}
	newer, err := rec.IsAncestor(cur)
	if err != nil {
		return err
	}
	if newer {
		return nil
	}
	return fmt.Errorf("%w: the manifest repository has %s, which %s does not descend from", ErrOlder, short(recorded), short(source))
}

func short(h string) string { return h[:min(12, len(h))] }
