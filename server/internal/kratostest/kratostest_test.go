package kratostest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/migrator/pgtest"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSharedFlows(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	u := kratostest.NewUser()

	reg := k.Register(t, u.Email, u.Name, u.Password)
	require.NotEmpty(t, reg.Token)
	require.NotEmpty(t, reg.ID)
	require.NotEmpty(t, reg.IdentityID)

	login := k.Login(t, u.Email, u.Password)
	require.NotEqual(t, reg.Token, login.Token)
	require.Equal(t, reg.IdentityID, login.IdentityID)

	s, resp, err := k.Public.FrontendAPI.ToSession(t.Context()).XSessionToken(login.Token).Execute()
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, login.ID, s.GetId())
	traits := s.Identity.GetTraits().(map[string]any)
	require.Equal(t, u.Email, traits["email"])
	require.Equal(t, u.Name, traits["name"])

	k.RevokeSession(t, login.ID)
	_, resp, err = k.Public.FrontendAPI.ToSession(t.Context()).XSessionToken(login.Token).Execute()
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_ = resp.Body.Close()
}

func TestBrowserFlows(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	u := kratostest.NewUser()

	reg := k.RegisterBrowser(t, u.Email, u.Name, u.Password)
	require.Empty(t, reg.Token)
	require.NotNil(t, reg.Cookie)
	require.False(t, reg.Cookie.Secure, "--dev drops the Secure flag")

	s, resp, err := k.Public.FrontendAPI.ToSession(t.Context()).Cookie(reg.Cookie.String()).Execute()
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, reg.ID, s.GetId())

	login := k.LoginBrowser(t, u.Email, u.Password)
	require.NotEqual(t, reg.Cookie.Value, login.Cookie.Value)
	require.Equal(t, reg.IdentityID, login.IdentityID)
}
