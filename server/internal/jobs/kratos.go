package jobs

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	ory "github.com/ory/kratos-client-go"

	"github.com/groundwork-dev/groundwork/server/internal/identity"
)

// KratosIdentities lists identities from Kratos's admin API
// (GET /admin/identities), with its keyset pagination: the next page's
// token arrives in the Link header's rel="next" URL.
type KratosIdentities struct {
	api      *ory.APIClient
	pageSize int64
}

// DefaultIdentityPageSize is the page size of a listing (Kratos allows up
// to 1000).
const DefaultIdentityPageSize = 250

// NewKratosIdentities returns a lister of the Kratos admin API at
// adminURL. A nil client gets one with a 30 s timeout; pageSize 0 means
// DefaultIdentityPageSize.
func NewKratosIdentities(adminURL string, client *http.Client, pageSize int) (*KratosIdentities, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kratos admin URL %q: must be an absolute http(s) URL", adminURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if pageSize <= 0 {
		pageSize = DefaultIdentityPageSize
	}
	cfg := ory.NewConfiguration()
	cfg.Servers = ory.ServerConfigurations{{URL: adminURL}}
	cfg.HTTPClient = client
	return &KratosIdentities{api: ory.NewAPIClient(cfg), pageSize: int64(pageSize)}, nil
}

// ListIdentities implements IdentityLister.
func (k *KratosIdentities) ListIdentities(ctx context.Context, pageToken string) ([]identity.User, string, error) {
	req := k.api.IdentityAPI.ListIdentities(ctx).PageSize(k.pageSize)
	if pageToken != "" {
		req = req.PageToken(pageToken)
	}
	ids, resp, err := req.Execute()
	if resp != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, "", fmt.Errorf("GET /admin/identities: %s: %w", resp.Status, err)
		}
		return nil, "", fmt.Errorf("GET /admin/identities: %w", err)
	}
	out := make([]identity.User, 0, len(ids))
	for _, id := range ids {
		traits, _ := id.GetTraits().(map[string]any)
		email, _ := traits["email"].(string)
		name, _ := traits["name"].(string)
		out = append(out, identity.User{ID: id.GetId(), Email: email, DisplayName: name})
	}
	next, err := nextPageToken(resp.Header.Values("Link"))
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

var linkRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?([a-z]+)"?`)

// nextPageToken finds the page_token of the rel="next" link; "" when there
// is none (the last page).
func nextPageToken(links []string) (string, error) {
	for _, h := range links {
		for _, m := range linkRE.FindAllStringSubmatch(h, -1) {
			if m[2] != "next" {
				continue
			}
			u, err := url.Parse(m[1])
			if err != nil {
				return "", fmt.Errorf("kratos Link header: next URL %q: %w", m[1], err)
			}
			tok := u.Query().Get("page_token")
			if tok == "" {
				return "", fmt.Errorf("kratos Link header: next URL %q has no page_token", m[1])
			}
			return tok, nil
		}
	}
	return "", nil
}
