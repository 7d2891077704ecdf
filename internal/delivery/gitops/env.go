package gitops

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport/http"
)

// PublisherFromEnv reads the manifest repository's settings:
//
//	MANIFEST_REPO_URL     https://host/owner/repo.git, or a local path (tests, rehearsals)
//	MANIFEST_REPO_TOKEN   a token that may push to it (https only); sent as the
//	                      password of x-access-token, as GitHub's tokens are
//	MANIFEST_REPO_BRANCH  default main
//
// sourceRepo is the source checkout whose history orders releases.
func PublisherFromEnv(getenv func(string) string, sourceRepo string) (Publisher, error) {
	raw := getenv("MANIFEST_REPO_URL")
	if raw == "" {
		return Publisher{}, errors.New("MANIFEST_REPO_URL is not set: the Git repository Flux reads, e.g. https://github.com/acme/manifests.git")
	}
	p := Publisher{URL: raw, Branch: getenv("MANIFEST_REPO_BRANCH"), SourceRepo: sourceRepo}
	token := getenv("MANIFEST_REPO_TOKEN")
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if u.User != nil {
			return Publisher{}, errors.New("MANIFEST_REPO_URL carries credentials: put the token in MANIFEST_REPO_TOKEN")
		}
		if token != "" && u.Scheme != "https" {
			return Publisher{}, fmt.Errorf("MANIFEST_REPO_TOKEN is only sent over https, and MANIFEST_REPO_URL is %s://", u.Scheme)
		}
	} else if token != "" || strings.Contains(raw, "@") {
		return Publisher{}, errors.New("MANIFEST_REPO_TOKEN is only sent over https; MANIFEST_REPO_URL is a path or an scp-like address")
	}
	if token != "" {
		p.Auth = &http.BasicAuth{Username: "x-access-token", Password: token}
	}
	return p, nil
}
