package images

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// RegistryFromEnv reads a TLS registry from the environment:
//
//	<variable>          host[:port]/path the images go to (required), e.g.
//	                    ghcr.io/groundwork-dev or registry.example.com/groundwork
//	REGISTRY_CA_FILE    PEM CA of the registry's certificate, if private
//	REGISTRY_USERNAME   with REGISTRY_PASSWORD: credentials for it (CI's
//	REGISTRY_PASSWORD   token); unset: ~/.docker/config.json and helpers
//
// Local registries are refused: these are the registries a cluster pulls
// from.
func RegistryFromEnv(getenv func(string) string, variable string) (Registry, error) {
	prefix := getenv(variable)
	if prefix == "" {
		return Registry{}, fmt.Errorf("%s is not set: name the TLS registry the cluster pulls from, e.g. %s=registry.example.com/groundwork", variable, variable)
	}
	if strings.Contains(prefix, "://") {
		return Registry{}, fmt.Errorf("%s=%s: a host and path, without a scheme (the registry is always TLS)", variable, prefix)
	}
	host := strings.SplitN(prefix, "/", 2)[0]
	if strings.HasPrefix(host, "localhost") || strings.HasPrefix(host, "127.") {
		return Registry{}, fmt.Errorf("%s=%s is a local registry; production pulls from a TLS registry it can reach", variable, prefix)
	}
	r := Registry{Prefix: prefix, CAFile: getenv("REGISTRY_CA_FILE")}
	user, pass := getenv("REGISTRY_USERNAME"), getenv("REGISTRY_PASSWORD")
	switch {
	case user != "" && pass != "":
		reg, err := name.NewRegistry(host)
		if err != nil {
			return Registry{}, fmt.Errorf("%s=%s: %w", variable, prefix, err)
		}
		r.Keychain = authn.NewMultiKeychain(staticKeychain{reg: reg.RegistryStr(), auth: &authn.Basic{Username: user, Password: pass}}, authn.DefaultKeychain)
	case user != "" || pass != "":
		return Registry{}, errors.New("REGISTRY_USERNAME and REGISTRY_PASSWORD go together")
	}
	return r, nil
}

// staticKeychain gives one registry's credentials and nothing else.
type staticKeychain struct {
	reg  string
	auth authn.Authenticator
}

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.reg {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}
