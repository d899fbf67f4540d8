//go:build !linux

package main

// maxrssBytes converts ru_maxrss, in bytes on macOS and the BSDs.
func maxrssBytes(v int64) int64 { return v }
