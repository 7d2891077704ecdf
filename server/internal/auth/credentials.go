package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"
)

// The gRPC metadata keys Authenticate reads (lower case, as gRPC delivers
// them). The gateway must forward the browser's Cookie header as "cookie"
// and X-Session-Token as "x-session-token"; grpc-gateway forwards
// Authorization as "authorization" by itself.
const (
	MetadataCookie        = "cookie"
	MetadataSessionToken  = "x-session-token"
	MetadataAuthorization = "authorization"
)

// maxCredentialLen bounds what is sent to Kratos: its tokens are 32
// characters and its session cookie a few hundred.
const maxCredentialLen = 4096

type credentialKind uint8

const (
	kindToken  credentialKind = iota + 1 // X-Session-Token or Bearer
	kindCookie                           // the session cookie's value
)

// credential is what a request presented. Its value never appears in
// errors or cache keys.
type credential struct {
	kind  credentialKind
	value string
}

// cacheKey is a digest of the credential, so the cache holds no bearer
// secrets.
type cacheKey [sha256.Size]byte

func (c credential) key() cacheKey {
	h := sha256.New()
	h.Write([]byte{byte(c.kind)})
	h.Write([]byte(c.value))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

var errNoCredentials = errors.New("no session token or session cookie in the request")

// credentialFrom picks the credential the way Kratos does for an HTTP
// request: X-Session-Token, then Authorization: Bearer, then the session
// cookie. Only the chosen one is sent to Kratos.
func credentialFrom(md metadata.MD, cookieName string) (credential, error) {
	if vals := md.Get(MetadataSessionToken); len(vals) > 0 {
		if len(vals) > 1 {
			return credential{}, fmt.Errorf("%d %s values in the request", len(vals), MetadataSessionToken)
		}
		return tokenCredential(vals[0], MetadataSessionToken)
	}
	var bearer []string
	for _, v := range md.Get(MetadataAuthorization) {
		// Other schemes (Basic, ...) are not Kratos's: ignore them, as Kratos does.
		if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			bearer = append(bearer, strings.TrimSpace(tok))
		}
	}
	switch len(bearer) {
	case 0:
	case 1:
		return tokenCredential(bearer[0], "bearer token")
	default:
		return credential{}, fmt.Errorf("%d bearer tokens in the request", len(bearer))
	}
	// Parsed as Go's HTTP server (and so Kratos) parses Cookie headers:
	// malformed pairs, such as other applications' cookies on the same
	// domain, are skipped.
	r := http.Request{Header: http.Header{"Cookie": md.Get(MetadataCookie)}}
	found := r.CookiesNamed(cookieName)
	switch len(found) {
	case 0:
		return credential{}, errNoCredentials
	case 1:
	default:
		// Two cookies of the same name (e.g. different paths): Kratos would
		// take the first, which may be a stale one; refuse to guess.
		return credential{}, fmt.Errorf("%d %s cookies in the request", len(found), cookieName)
	}
	v := found[0].Value
	if v == "" || len(v) > maxCredentialLen {
		return credential{}, fmt.Errorf("malformed %s cookie", cookieName)
	}
	return credential{kind: kindCookie, value: v}, nil
}

// tokenCredential checks a session token's shape before it goes into an
// HTTP header: Kratos tokens are printable ASCII without spaces, and
// anything else (a newline, say) would make the HTTP client fail, which
// must not look like Kratos being down.
func tokenCredential(tok, what string) (credential, error) {
	if tok == "" || len(tok) > maxCredentialLen {
		return credential{}, fmt.Errorf("malformed %s", what)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return credential{}, fmt.Errorf("malformed %s", what)
		}
	}
	return credential{kind: kindToken, value: tok}, nil
}
