package devstack

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKratosAndServerFollowTheWebPort(t *testing.T) {
	t.Parallel()
	cfg, err := ConfigFromEnv(t.TempDir(), func(k string) string {
		return map[string]string{EnvWebPort: "18080", EnvMailpitSMTPPort: "11025"}[k]
	})
	require.NoError(t, err)
	env := strings.Join(cfg.kratosWebEnv(), "\n")
	for _, want := range []string{
		"SERVE_PUBLIC_BASE_URL=http://127.0.0.1:18080/.ory/kratos/public/",
		"SELFSERVICE_ALLOWED_RETURN_URLS=http://127.0.0.1:18080",
		"SELFSERVICE_FLOWS_LOGIN_UI_URL=http://127.0.0.1:18080/login",
		"SELFSERVICE_FLOWS_REGISTRATION_UI_URL=http://127.0.0.1:18080/registration",
		"SELFSERVICE_FLOWS_SETTINGS_UI_URL=http://127.0.0.1:18080/settings",
		"SELFSERVICE_FLOWS_RECOVERY_UI_URL=http://127.0.0.1:18080/recovery",
		"SELFSERVICE_FLOWS_VERIFICATION_UI_URL=http://127.0.0.1:18080/verification",
		"SELFSERVICE_FLOWS_ERROR_UI_URL=http://127.0.0.1:18080/error",
	} {
		require.Contains(t, env, want)
	}
	require.Equal(t, "smtp://127.0.0.1:11025/?disable_starttls=true", cfg.courierSMTPURI())
	s := New(cfg, &strings.Builder{}, nil)
	srv, err := s.serverEnv()
	require.NoError(t, err)
	require.Contains(t, srv, "ALLOWED_ORIGIN=http://127.0.0.1:18080", "the server's CSRF check must accept the origin the browser uses")

	// The defaults are the values in kratos.yml, so the file and the local
	// stack agree.
	def, err := ConfigFromEnv(t.TempDir(), func(string) string { return "" })
	require.NoError(t, err)
	yml, err := os.ReadFile("../../../k8s/base/kratos/kratos.yml")
	require.NoError(t, err)
	for _, line := range def.kratosWebEnv() {
		_, v, _ := strings.Cut(line, "=")
		require.Contains(t, string(yml), v, line)
	}
	require.Contains(t, string(yml), def.courierSMTPURI())

	_, err = ConfigFromEnv(t.TempDir(), func(k string) string { return map[string]string{EnvWebPort: "80"}[k] })
	require.ErrorContains(t, err, EnvWebPort)
	watch, err := ConfigFromEnv(t.TempDir(), func(k string) string { return map[string]string{EnvWebWatch: "1"}[k] })
	require.NoError(t, err)
	require.True(t, watch.WebWatch)
}
