//go:build !unix

package main

import "os"

// lock does nothing where flock is not available: the election alone
// keeps a second leader from writing.
func lock(*os.File) error { return nil }
