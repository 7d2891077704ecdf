package terraform

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/groundwork-dev/groundwork/internal/shared/lastlines"
)

// Check runs the offline checks of the whole tree: terraform fmt, init
// (no backend) and validate of every module and environment, tflint with
// its bundled terraform ruleset, and terraform test (mocked providers)
// wherever there is a tests/ directory. It works on a copy of the tree so
// that the checkout gets no .terraform directories or lock files; p's
// CLIConfig must install the provider offline (Mirror).
func (p Project) Check(ctx context.Context, tflint string) error {
	work, err := os.MkdirTemp("", "groundwork-terraform-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, Dir)
	if err := copyTree(filepath.Join(p.Root, Dir), tree); err != nil {
		return fmt.Errorf("copying %s: %w", Dir, err)
	}

	top, err := p.terraform(tree, nil)
	if err != nil {
		return err
	}
	ok, files, err := top.FormatCheck(ctx, tfexec.Recursive(true))
	if err != nil {
		return fmt.Errorf("terraform fmt: %w", err)
	}
	if !ok {
		return fmt.Errorf("not formatted (run `terraform fmt -recursive %s`): %s", Dir, strings.Join(files, ", "))
	}

	dirs, err := configDirs(tree)
	if err != nil {
		return err
	}
	var problems []string
	for _, dir := range dirs {
		rel, _ := filepath.Rel(work, dir)
		if err := p.validate(ctx, dir); err != nil {
			problems = append(problems, rel+": "+err.Error())
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "tests")); err == nil {
			summary, err := p.test(ctx, dir)
			if err != nil {
				problems = append(problems, rel+": "+err.Error())
				continue
			}
			fmt.Fprintf(p.Out, "%s: %s\n", rel, summary)
		} else {
			fmt.Fprintf(p.Out, "%s: valid\n", rel)
		}
	}
	if err := runTFLint(ctx, tflint, tree); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("terraform checks failed:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

// configDirs are the modules and environments: every directory of
// modules/ and envs/.
func configDirs(tree string) ([]string, error) {
	var dirs []string
	for _, parent := range []string{"modules", "envs"} {
		entries, err := os.ReadDir(filepath.Join(tree, parent))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(tree, parent, e.Name()))
			}
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("no modules or environments")
	}
	return dirs, nil
}

func (p Project) validate(ctx context.Context, dir string) error {
	var log bytes.Buffer
	tf, err := p.terraform(dir, &log)
	if err != nil {
		return err
	}
	if err := tf.Init(ctx, tfexec.Backend(false)); err != nil {
		return fmt.Errorf("terraform init: %w\n%s", err, lastlines.Of(log.String(), 20))
	}
	v, err := tf.Validate(ctx)
	if err != nil {
		return fmt.Errorf("terraform validate: %w", err)
	}
	// Warnings too: a deprecation now is an error at the next upgrade.
	if len(v.Diagnostics) > 0 {
		return errors.New(diagnostics(v.Diagnostics))
	}
	return nil
}

func diagnostics(ds []tfjson.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		where := ""
		if d.Range != nil {
			where = fmt.Sprintf("%s:%d: ", d.Range.Filename, d.Range.Start.Line)
		}
		fmt.Fprintf(&b, "\n  %s%s: %s. %s", where, d.Severity, d.Summary, d.Detail)
	}
	return b.String()
}

// test runs terraform test and returns its summary line, or an error with
// every failed assertion and diagnostic.
func (p Project) test(ctx context.Context, dir string) (string, error) {
	tf, err := p.terraform(dir, nil)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	runErr := tf.Test(ctx, &out)
	var summary string
	var failures []string
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Level   string `json:"@level"`
			Message string `json:"@message"`
			Type    string `json:"type"`
			Diag    *struct {
				Summary string `json:"summary"`
				Detail  string `json:"detail"`
			} `json:"diagnostic"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch {
		case m.Type == "test_summary":
			summary = m.Message
		case m.Diag != nil && m.Level == "error":
			failures = append(failures, m.Diag.Summary+": "+m.Diag.Detail)
		case m.Type == "test_run" && m.Level == "error", strings.Contains(m.Message, "... fail"):
			failures = append(failures, m.Message)
		}
	}
	if runErr != nil || len(failures) > 0 {
		return "", fmt.Errorf("terraform test: %s\n  %s", summary, strings.Join(failures, "\n  "))
	}
	return "terraform test: " + summary, nil
}

// runTFLint lints every module and environment with the bundled terraform
// ruleset (.tflint.hcl at the tree's top), offline.
func runTFLint(ctx context.Context, tflint, tree string) error {
	cmd := exec.CommandContext(ctx, tflint, "--recursive", "--config", filepath.Join(tree, ".tflint.hcl"), "--format", "compact")
	cmd.Dir = tree
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("tflint: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// copyTree copies the Terraform sources, leaving out what a user's own
// runs leave behind (.terraform, state, their variables and backend
// settings, plans). Both ends are opened as roots: nothing outside them is
// read or written, whatever a symlink in the tree says.
func copyTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer to.Close()
	skip := []string{".terraform", "terraform.tfvars", "backend.hcl", ".terraform.lock.hcl"}
	return fs.WalkDir(from.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if slices.Contains(skip, d.Name()) || strings.HasSuffix(d.Name(), ".tfstate") || strings.HasSuffix(d.Name(), ".tfstate.backup") || strings.HasSuffix(d.Name(), ".tfplan") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return to.MkdirAll(path, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := from.ReadFile(path)
		if err != nil {
			return err
		}
		return to.WriteFile(path, b, 0o644)
	})
}
