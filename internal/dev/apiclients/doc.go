// Package apiclients holds the test that follows docs/api.md's journey with
// the clients developers use — grpcurl (built from tools/grpcurl), curl and
// jq — against a private stack: services listed by server reflection, a
// method described, GetMe and CreateAccount called with a Kratos session,
// the OpenAPI document fetched from the one origin. The commands are read
// from the document itself, so the document cannot drift from what works.
package apiclients
