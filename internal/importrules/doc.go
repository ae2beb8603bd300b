// Package importrules holds no code: its test enforces the import rules of ARCHITECTURE.md
// section 2 over `go list -deps`, so a forbidden import fails the build's tests instead of
// slipping in.
package importrules
