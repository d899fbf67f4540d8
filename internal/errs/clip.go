package errs

import (
	"fmt"
	"unicode/utf8"
)

// MaxMessage caps what an error's message shows of text that comes from
// elsewhere (a server's answer, a caller's query): errors travel into
// logs, journals and AI agents' tool results. The whole text stays in the
// error's fields.
const MaxMessage = 256

// Clip cuts s to at most n bytes, at a rune boundary, saying how long it
// was when it cuts.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
