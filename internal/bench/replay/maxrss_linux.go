package main

// maxrssBytes converts ru_maxrss, in KiB on Linux.
func maxrssBytes(v int64) int64 { return v << 10 }
