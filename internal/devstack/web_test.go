package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeasureInitialJSCountsEntryAndPreloadsOnly(t *testing.T) {
	t.Parallel()
	dist := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dist, "assets"), 0o755))
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dist, name), []byte(body), 0o644))
	}
	write("index.html", `<script type="module" crossorigin src="/assets/index-a.js"></script><link rel="modulepreload" crossorigin href="/assets/vendor-b.js"><link rel="stylesheet" href="/assets/index.css">`)
	write("assets/index-a.js", strings.Repeat("export const a = 1;\n", 100))
	write("assets/vendor-b.js", strings.Repeat("export const b = 2;\n", 100))
	write("assets/lazy-c.js", strings.Repeat("x", 1<<20)) // loaded on demand: not initial

	js, err := MeasureInitialJS(dist)
	require.NoError(t, err)
	require.Equal(t, []string{"/assets/index-a.js", "/assets/vendor-b.js"}, js.Files)
	require.Positive(t, js.GzipBytes)
	require.Less(t, js.GzipBytes, 1000)
	require.False(t, js.OverBudget())
	require.Contains(t, js.String(), "KB gzip (budget 150 KB)")
	require.True(t, InitialJS{GzipBytes: InitialJSBudget + 1}.OverBudget())

	write("index.html", `<script type="module" src="/assets/gone.js"></script>`)
	_, err = MeasureInitialJS(dist)
	require.ErrorContains(t, err, "/assets/gone.js")
	write("index.html", `<p>no script</p>`)
	_, err = MeasureInitialJS(dist)
	require.ErrorContains(t, err, "loads no script")
}

func TestWebSourceStampFollowsSourcesOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{"src/main.tsx": "a", "package-lock.json": "{}", "node_modules/x/index.js": "n", "dist/index.html": "d", "src/x.test.tsx": "t"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	first, err := webSourceStamp(dir)
	require.NoError(t, err)
	for _, ignored := range []string{"node_modules/x/index.js", "dist/index.html", "src/x.test.tsx"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ignored), []byte("changed"), 0o644))
	}
	same, err := webSourceStamp(dir)
	require.NoError(t, err)
	require.Equal(t, first, same, "build output, dependencies and tests do not make a new build")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "src/main.tsx"), []byte("b"), 0o644))
	changed, err := webSourceStamp(dir)
	require.NoError(t, err)
	require.NotEqual(t, first, changed)
}

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
	yml, err := os.ReadFile("../../k8s/base/kratos/kratos.yml")
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
