package protogen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// openAPIDir is where buf.gen.yaml has protoc-gen-openapiv2 write, relative
// to the buf workspace.
const openAPIDir = "gen/openapi"

// checkHTTPRules fails naming every RPC that has no HTTP rule. grpc-gateway
// and protoc-gen-openapiv2 leave such an RPC out without a word, so a
// forgotten api.gateway.yaml entry would only show as a 404 at run time.
// The generated OpenAPI documents list an operation for each mapped RPC.
func (w workspace) checkHTTPRules(ctx context.Context) error {
	image, err := w.output(ctx, "build", "--exclude-imports", "-o", "-#format=json")
	if err != nil {
		return fmt.Errorf("buf build in %s: %w: %s", w.rel, err, image)
	}
	rpcs, err := parseRPCs(image)
	if err != nil {
		return fmt.Errorf("read the image of %s: %w", w.rel, err)
	}
	mapped, err := openAPIOperations(filepath.Join(w.dir, openAPIDir))
	if err != nil {
		return err
	}
	var unmapped []rpc
	for _, r := range rpcs {
		if !mapped[r.Service+"_"+r.Method] {
			unmapped = append(unmapped, r)
		}
	}
	if len(unmapped) == 0 {
		return nil
	}
	// Image file names are import paths; diagnostics want file paths.
	if err := w.resolveFiles(ctx, unmapped); err != nil {
		return err
	}
	var diags []Diagnostic
	for _, r := range unmapped {
		diags = append(diags, Diagnostic{
			Path: joinPath(w.rel, r.File), Line: r.Line, Column: r.Column, Rule: "HTTP_RULE",
			Message: fmt.Sprintf("rpc %s.%s.%s has no HTTP rule: add one to the grpc_api_configuration file named in buf.gen.yaml",
				r.Package, r.Service, r.Method),
		})
	}
	return &Error{Step: "generate", Dir: w.rel, Diagnostics: diags}
}

// resolveFiles replaces the import paths in rpcs (groundwork/v1/a.proto)
// by paths relative to the buf workspace (proto/groundwork/v1/a.proto).
func (w workspace) resolveFiles(ctx context.Context, rpcs []rpc) error {
	out, err := w.output(ctx, "ls-files", "--format=json")
	if err != nil {
		return fmt.Errorf("buf ls-files in %s: %w: %s", w.rel, err, out)
	}
	paths := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var f struct {
			Path       string `json:"path"`
			ImportPath string `json:"import_path"`
		}
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("read buf ls-files output: %w", err)
		}
		paths[f.ImportPath] = f.Path
	}
	for i := range rpcs {
		if p, ok := paths[rpcs[i].File]; ok {
			rpcs[i].File = p
		}
	}
	return nil
}

// rpc is one method of a service in the image.
type rpc struct {
	File, Package, Service, Method string
	Line, Column                   int // 1-based position of the rpc statement
}

// parseRPCs lists the RPCs of a FileDescriptorSet in protojson form (what
// `buf build -o -#format=json` writes), in file and declaration order.
func parseRPCs(image []byte) ([]rpc, error) {
	var set struct {
		File []struct {
			Name    string `json:"name"`
			Package string `json:"package"`
			Service []struct {
				Name   string `json:"name"`
				Method []struct {
					Name string `json:"name"`
				} `json:"method"`
			} `json:"service"`
			SourceCodeInfo struct {
				Location []struct {
					Path []int `json:"path"`
					Span []int `json:"span"`
				} `json:"location"`
			} `json:"sourceCodeInfo"`
		} `json:"file"`
	}
	if err := json.Unmarshal(image, &set); err != nil {
		return nil, err
	}
	// Field numbers in descriptor.proto: FileDescriptorProto.service = 6,
	// ServiceDescriptorProto.method = 2.
	const serviceField, methodField = 6, 2
	var rpcs []rpc
	for _, f := range set.File {
		spans := map[[2]int][]int{}
		for _, loc := range f.SourceCodeInfo.Location {
			if len(loc.Path) == 4 && loc.Path[0] == serviceField && loc.Path[2] == methodField {
				spans[[2]int{loc.Path[1], loc.Path[3]}] = loc.Span
			}
		}
		for si, s := range f.Service {
			for mi, m := range s.Method {
				r := rpc{File: f.Name, Package: f.Package, Service: s.Name, Method: m.Name}
				if span := spans[[2]int{si, mi}]; len(span) >= 2 {
					r.Line, r.Column = span[0]+1, span[1]+1
				}
				rpcs = append(rpcs, r)
			}
		}
	}
	return rpcs, nil
}

// openAPIOperations collects the operationIds (Service_Method) of the
// OpenAPI documents under dir.
func openAPIOperations(dir string) (map[string]bool, error) {
	ops := map[string]bool{}
	docs := 0
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("read the generated OpenAPI documents: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".swagger.json") {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("parse %s: %w", filepath.Join(dir, p), err)
		}
		docs++
		for _, item := range doc.Paths {
			for _, raw := range item {
				// A path item holds operations and, possibly, a
				// "parameters" array, which has no operationId.
				var op struct {
					OperationID string `json:"operationId"`
				}
				if json.Unmarshal(raw, &op) == nil && op.OperationID != "" {
					ops[op.OperationID] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the generated OpenAPI documents: %w", err)
	}
	if docs == 0 {
		return nil, fmt.Errorf("no *.swagger.json under %s: the HTTP rule check reads the document protoc-gen-openapiv2 writes there (see buf.gen.yaml)", dir)
	}
	return ops, nil
}
