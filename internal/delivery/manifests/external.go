package manifests

// ExternalSecret is a Secret the manifests reference but do not produce:
// its values must never be in git. In the Kind cluster, `mage kind:up`
// creates the ones marked Dev with random values; in production an operator
// creates them all before the first deploy (docs/kubernetes.md, "Secrets to
// create", lists each with its command; a test keeps that list complete).
type ExternalSecret struct {
	Namespace string
	Name      string
	Keys      []string
	// Dev is true when the Kind cluster needs it too (kind:up generates it).
	Dev bool
	// Generate says how kind:up makes a value for each key: its length in
	// random URL-safe characters. Empty for production-only Secrets.
	Generate map[string]int
}

// External lists every Secret that must exist before the overlays are
// applied.
var External = []ExternalSecret{
	{
		Namespace: "groundwork-auth", Name: "kratos-secrets", Keys: []string{"default", "cookie", "cipher"}, Dev: true,
		// Kratos: default and cookie at least 16 characters, cipher exactly 32.
		Generate: map[string]int{"default": 32, "cookie": 32, "cipher": 32},
	},
	{
		// The identity web hook's shared key, the same value in both
		// namespaces (Kratos sends it, the server checks it).
		Namespace: "groundwork-auth", Name: "kratos-hook-key", Keys: []string{"key"}, Dev: true,
		Generate: map[string]int{"key": 48},
	},
	{
		Namespace: "groundwork", Name: "kratos-hook-key", Keys: []string{"key"}, Dev: true,
		Generate: map[string]int{"key": 48},
	},
	{Namespace: "groundwork-auth", Name: "kratos-smtp", Keys: []string{"connection-uri"}},
	{Namespace: "groundwork", Name: "registry-pull", Keys: []string{".dockerconfigjson"}},
	{Namespace: "groundwork-auth", Name: "registry-pull", Keys: []string{".dockerconfigjson"}},
	{Namespace: "groundwork", Name: "web-tls", Keys: []string{"tls.crt", "tls.key"}},
}

// SharedValue lists Secrets that must hold the same value: kind:up
// generates one value for all of them.
var SharedValue = [][2]string{{"groundwork-auth/kratos-hook-key", "groundwork/kratos-hook-key"}}

// ExternalFor returns the external Secrets of an overlay.
func ExternalFor(production bool) []ExternalSecret {
	var out []ExternalSecret
	for _, e := range External {
		if production || e.Dev {
			out = append(out, e)
		}
	}
	return out
}
