// Not Go code: this file only keeps the Go tools out of webapp/. npm packages
// may ship Go sources (flatted does, under node_modules/flatted/golang), and
// without a module boundary here `go vet ./...`, `go test ./...` and
// golangci-lint of the root module would take them for packages of ours.
module github.com/groundwork-dev/groundwork/webapp

go 1.26
