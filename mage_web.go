//go:build mage

// The webapp's targets: the browser journey and the hot-reload stack. Each
// is a thin call into internal/e2e or internal/devstack.

package main

import (
	"context"
	"os"

	"github.com/groundwork-dev/groundwork/internal/devstack"
	"github.com/groundwork-dev/groundwork/internal/e2e"
	"github.com/groundwork-dev/groundwork/internal/sysdeps"
)

// E2e runs the webapp's end-to-end journey in real Chromium on a private stack (screenshots in .dev/e2e/).
func E2e(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	_, err = e2e.Run(ctx, e2e.Options{Root: root, Out: os.Stdout, Deps: sysdeps.New(os.Stdout)})
	return err
}

// Watch starts the local stack with the webapp served by Vite's dev server (hot reload) behind the same origin; dev:up switches back to webapp/dist.
func (Dev) Watch(ctx context.Context) error {
	cfg, err := devstack.ConfigFromEnv(".", os.Getenv)
	if err != nil {
		return err
	}
	cfg.WebWatch = true
	return devstack.New(cfg, os.Stdout, sysdeps.New(os.Stdout)).Up(ctx)
}
