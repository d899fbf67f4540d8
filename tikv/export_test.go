package tikv

// The helpers of the internal tests that the external ones (package
// tikv_test) use too.
var (
	LogBase    = logBase
	WriteFile  = writeFile
	AppendFile = appendFile
	LogLine    = logLine

	StoreFromPD      = storeFromPD
	RegionFromPD     = regionFromPD
	HotRegionsFromPD = hotRegionsFromPD
)
