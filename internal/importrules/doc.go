// Package importrules holds no code: its test enforces the import rules of
// docs/architecture.md ("Who may import whom") over `go list -deps` of every non-test package
// of the module, so a forbidden import fails the tests instead of slipping in. It is the only
// import-rules test of the module.
package importrules
