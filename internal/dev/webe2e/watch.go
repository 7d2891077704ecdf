package webe2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/websocket"

	"github.com/groundwork-dev/groundwork/internal/dev/devstack"
	"github.com/groundwork-dev/groundwork/internal/toolchain/sysdeps"
)

// viteClient is the script Vite's dev server puts into the page; its
// absence means the page came from webapp/dist.
const viteClient = "/@vite/client"

// wsTokenRE finds the token Vite's client sends with the hot-reload
// websocket (Vite refuses the connection without it).
var wsTokenRE = regexp.MustCompile(`const wsToken = "([^"]+)"`)

// CheckWatch is what `go tool mage dev:watch` promises, on a running
// private stack: it switches the stack to watch mode and checks, through
// the one origin, that the page and its modules come from Vite's real dev
// server and that Vite's hot-reload websocket connects; then it runs the
// stack as dev:up does and checks that webapp/dist is served again.
func CheckWatch(ctx context.Context, cfg devstack.Config, out io.Writer, deps *sysdeps.Installer) error {
	watch := cfg
	watch.WebWatch = true
	start := time.Now()
	if err := devstack.New(watch, prefixed(out, "stack | "), deps).Up(ctx); err != nil {
		return fmt.Errorf("dev:watch: %w", err)
	}
	origin := cfg.WebOrigin()
	page, err := fetch(ctx, origin+"/")
	if err != nil {
		return fmt.Errorf("dev:watch: %w", err)
	}
	if !strings.Contains(page, viteClient) {
		return fmt.Errorf("dev:watch: the page at %s/ does not load %s: not served by Vite", origin, viteClient)
	}
	module, err := fetch(ctx, origin+"/src/main.tsx")
	if err != nil {
		return fmt.Errorf("dev:watch: %w", err)
	}
	if !strings.Contains(module, "import") || strings.Contains(module, "<html") {
		return errors.New("dev:watch: /src/main.tsx is not a module compiled by Vite")
	}
	client, err := fetch(ctx, origin+viteClient)
	if err != nil {
		return fmt.Errorf("dev:watch: %w", err)
	}
	m := wsTokenRE.FindStringSubmatch(client)
	if m == nil {
		return fmt.Errorf("dev:watch: no websocket token in %s", viteClient)
	}
	msg, err := hotReloadHello(ctx, origin, m[1])
	if err != nil {
		return fmt.Errorf("dev:watch: hot-reload websocket through the origin: %w", err)
	}
	if !strings.Contains(msg, `"type":"connected"`) {
		return fmt.Errorf("dev:watch: hot-reload websocket said %q, want the connected message", msg)
	}
	fmt.Fprintf(out, "e2e: dev:watch serves Vite through %s with hot reload (%s)\n", origin, time.Since(start).Round(100*time.Millisecond))

	if err := devstack.New(cfg, prefixed(out, "stack | "), deps).Up(ctx); err != nil {
		return fmt.Errorf("dev:up after dev:watch: %w", err)
	}
	page, err = fetch(ctx, origin+"/")
	if err != nil {
		return fmt.Errorf("dev:up after dev:watch: %w", err)
	}
	if strings.Contains(page, viteClient) || !strings.Contains(page, "/assets/") {
		return errors.New("dev:up after dev:watch: the page is not webapp/dist's")
	}
	fmt.Fprintln(out, "e2e: dev:up serves webapp/dist again")
	return nil
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// hotReloadHello opens Vite's hot-reload websocket as the page's client
// does (same origin, subprotocol vite-hmr, the token) and returns the first
// message.
func hotReloadHello(ctx context.Context, origin, token string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return "", err
	}
	u.Scheme = "ws"
	u.Path = "/"
	u.RawQuery = url.Values{"token": {token}}.Encode()
	wc, err := websocket.NewConfig(u.String(), origin)
	if err != nil {
		return "", err
	}
	wc.Protocol = []string{"vite-hmr"}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := wc.DialContext(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	var msg string
	if err := websocket.Message.Receive(conn, &msg); err != nil {
		return "", err
	}
	return msg, nil
}
