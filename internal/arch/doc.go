// Package arch holds no code: its test enforces the packages' import
// rules (which package must not depend on which) with go list, so that a
// new import that breaks the layering fails the build's tests.
package arch
